// The registry template (lazy built-ins, replacement, aliases, errors with "did you mean", threads) and the three
// registries built on it: attention modules, models, datasets.
#include <attncnn/attention/registry.h>
#include <attncnn/data/dataset.h>
#include <attncnn/error.h>
#include <attncnn/models/model.h>
#include <attncnn/registry.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

using namespace attncnn;

namespace {

struct Tool {
  std::string name, summary;
  int weight = 0;
};

// The message and kind of the attncnn::Error that f throws.
template <typename F>
std::pair<std::string, ErrorKind> error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.what(), e.kind()};
  }
  ADD_FAILURE() << "no attncnn::Error thrown";
  return {"", ErrorKind::Runtime};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(RegistryTemplate, EditDistanceAndClosestName) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);  // the textbook example
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("flaw", "lawn"), 2u);
  EXPECT_EQ(edit_distance("SE", "se"), 0u);  // case is ignored
  const std::vector<std::string> names = {"cbam", "eca", "se", "sgate"};
  EXPECT_EQ(closest_name("sgatee", names), "sgate");
  EXPECT_EQ(closest_name("ECA", names), "eca");
  EXPECT_EQ(closest_name("sx", names), "se");
  EXPECT_EQ(closest_name("transformer", names), "");  // nothing close: no guess
  EXPECT_EQ(closest_name("xyz", names), "");
}

TEST(RegistryTemplate, BuiltinsRunOnceOnFirstUseAndUserEntriesWin) {
  int runs = 0;
  Registry<Tool> r("tool", [&runs](Registry<Tool>& reg) {
    ++runs;
    reg.add({"hammer", "drives nails", 3});
    reg.add({"saw", "cuts", 2});
    reg.add_alias({"mallet", "hammer", "a softer hammer"});
  });
  EXPECT_EQ(runs, 0);
  r.add({"hammer", "a user's hammer", 7});  // first use: the built-ins run, then this replaces theirs
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(r.find("hammer").weight, 7);
  EXPECT_EQ(r.find("mallet").weight, 7);  // an alias follows its target
  EXPECT_EQ(r.canonical("mallet"), "hammer");
  EXPECT_EQ(r.names(), (std::vector<std::string>{"hammer", "saw"}));
  ASSERT_EQ(r.aliases().size(), 1u);
  EXPECT_EQ(r.aliases()[0].summary, "a softer hammer");
  EXPECT_TRUE(r.contains("mallet"));
  EXPECT_TRUE(r.is_alias("mallet"));
  EXPECT_FALSE(r.is_alias("hammer"));
  EXPECT_FALSE(r.contains("drill"));
  r.add({"awl", "pokes", 1});
  const auto entries = r.entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].name, "awl");  // sorted by name
  EXPECT_EQ(runs, 1);
}

TEST(RegistryTemplate, UnknownNamesAndRegistrationMistakes) {
  Registry<Tool> r("tool", [](Registry<Tool>& reg) {
    reg.add({"hammer", "", 3});
    reg.add({"wrench", "", 1});
    reg.add_alias({"spanner", "wrench", ""});
  }, {"none"});
  auto e = error_of([&] { r.find("hamer"); });
  EXPECT_EQ(e.second, ErrorKind::Input);
  EXPECT_EQ(e.first, "unknown tool 'hamer'; did you mean 'hammer'? valid names: none, hammer, wrench, spanner");
  e = error_of([&] { r.find("chisel"); });
  EXPECT_EQ(e.first, "unknown tool 'chisel'; valid names: none, hammer, wrench, spanner");
  // Mistakes of the registering code are runtime errors.
  EXPECT_EQ(error_of([&] { r.add({"spanner", "", 0}); }).second, ErrorKind::Runtime);
  EXPECT_EQ(error_of([&] { r.add_alias({"hammer", "wrench", ""}); }).second, ErrorKind::Runtime);
  EXPECT_EQ(error_of([&] { r.add_alias({"pliers", "vice", ""}); }).second, ErrorKind::Runtime);
  EXPECT_EQ(error_of([&] { r.add_alias({"wrench2", "spanner", ""}); }).second, ErrorKind::Runtime);  // alias chain
  EXPECT_EQ(error_of([&] { r.add({"none", "", 0}); }).second, ErrorKind::Runtime);
  EXPECT_EQ(error_of([&] { r.add({"", "", 0}); }).second, ErrorKind::Runtime);
}

TEST(RegistryTemplate, ThreadsSeeCompleteBuiltins) {
  std::atomic<int> runs{0};
  Registry<Tool> r("tool", [&runs](Registry<Tool>& reg) {
    ++runs;
    for (int i = 0; i < 200; ++i) reg.add({"t" + std::to_string(i), "", i});
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // widen the window for a racing reader
  });
  std::atomic<int> incomplete{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      if (r.names().size() != 200) ++incomplete;
      if (r.find("t199").weight != 199) ++incomplete;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(incomplete.load(), 0);
}

TEST(Registries, AttentionModelAndDatasetRegistries) {
  // Attention: "none" is valid input but no entry; a typo gets a suggestion.
  const auto attn = error_of([] { attention_entry("sgatee"); });
  EXPECT_EQ(attn.second, ErrorKind::Input);
  EXPECT_TRUE(contains(attn.first, "unknown attention module 'sgatee'; did you mean 'sgate'?")) << attn.first;
  EXPECT_TRUE(contains(attn.first, "valid names: none, ")) << attn.first;
  const auto attn_names = attention_names();
  EXPECT_TRUE(std::is_sorted(attn_names.begin(), attn_names.end()));
  for (const char* n : {"sgate", "attnpool", "se", "eca", "cbam", "nl"})
    EXPECT_NE(std::find(attn_names.begin(), attn_names.end(), n), attn_names.end()) << n;
  // Models: the error lists aliases too.
  const auto model = error_of([] { check_model_config([] { ModelConfig c; c.name = "seresnet5"; return c; }()); });
  EXPECT_TRUE(contains(model.first, "unknown model 'seresnet5'; did you mean 'seresnet50'?")) << model.first;
  // Datasets: the seven built-in specs, and an unknown one names the spec and lists them.
  std::set<std::string> specs;
  for (const auto& d : dataset_entries()) {
    specs.insert(d.name);
    EXPECT_EQ(d.form.rfind(d.name, 0), 0u) << d.form;  // the form starts with the name
    EXPECT_FALSE(d.summary.empty()) << d.name;
    EXPECT_TRUE(static_cast<bool>(d.loader)) << d.name;
  }
  for (const char* s : {"cifar10", "cifar100", "cifar100-coarse", "fashion-mnist", "folder", "idx", "mnist"})
    EXPECT_EQ(specs.count(s), 1u) << s;
  const auto data = error_of([] { load_dataset("cifar11:/nowhere"); });
  EXPECT_EQ(data.second, ErrorKind::Input);
  EXPECT_TRUE(contains(data.first, "dataset spec 'cifar11:/nowhere'")) << data.first;
  EXPECT_TRUE(contains(data.first, "did you mean 'cifar10'?")) << data.first;
  for (const auto& s : specs) EXPECT_TRUE(contains(data.first, s)) << data.first;
}

TEST(Registries, UserDatasetLoadsThroughTheSpec) {
  register_dataset({"constant", "a test dataset: four 2x2 images", "constant[:N]",
                    [](Dataset& ds, const std::string& path, const DatasetOptions&) {
                      const int64_t v = path.empty() ? 1 : std::stoll(path);
                      ds.root = "memory";
                      ds.train = {torch::full({4, 1, 2, 2}, v, torch::kUInt8), torch::tensor({0, 1, 0, 1}, torch::kLong)};
                      ds.test = ds.train;
                      ds.class_names = {"a", "b"};
                    }});
  const Dataset ds = load_dataset("constant:9");
  EXPECT_EQ(ds.name, "constant");
  EXPECT_EQ(ds.spec, "constant:9");
  EXPECT_EQ(ds.train.images.max().item<int64_t>(), 9);
  EXPECT_EQ(load_dataset("constant").train.images.max().item<int64_t>(), 1);
}
