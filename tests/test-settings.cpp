// The settings table: every training setting is defined once and the flags, `train --help`, config keys,
// validation, args.json and the docs table all agree with it.
#include <attncnn/error.h>
#include <attncnn/train/config.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli_run.h"
#include "test_errors.h"
#include <attncnn/io/files.h>

using namespace attncnn;

namespace {
TrainConfig valid() {
  TrainConfig c;
  c.out = "unused";
  return c;
}
}  // namespace

TEST(SettingsTable, KeysFlagsAndDefaultsAreConsistent) {
  const auto& table = train_settings();
  ASSERT_EQ(table.size(), train_setting_keys().size());
  const auto defaults = nlohmann::json::parse(train_settings_json(TrainConfig{}));
  std::set<std::string> keys, flags;
  const std::set<std::string> groups = {"Data", "Model", "Optimisation", "Augmentation", "Evaluation", "Speed", "Distributed", "Output"};
  for (const auto& s : table) {
    EXPECT_TRUE(keys.insert(s.key).second) << "duplicate key " << s.key;
    EXPECT_TRUE(groups.count(s.group)) << s.key << " in group " << s.group;
    EXPECT_FALSE(s.help.empty()) << s.key;
    if (s.cli) {
      ASSERT_FALSE(s.flags.empty()) << s.key;
      std::string want = "--" + s.key;
      for (auto& c : want)
        if (c == '_') c = '-';
      EXPECT_EQ(s.flags.front(), want) << "the long flag is the key with '-' for '_'";
      for (const auto& f : s.flags) EXPECT_TRUE(flags.insert(f).second) << "duplicate flag " << f;
    }
    // The default shown is the struct's own initialiser, as args.json writes it.
    const auto& d = defaults.at(s.key);
    const std::string shown = d.is_string() ? d.get<std::string>() : d.dump();
    if (s.type == "number") EXPECT_DOUBLE_EQ(std::stod(s.default_text), d.get<double>()) << s.key;
    else EXPECT_EQ(s.default_text, shown) << s.key;
  }
  EXPECT_EQ(keys.size(), defaults.size());
}

TEST(SettingsTable, DefaultsPassValidation) {
  TrainConfig c = valid();
  EXPECT_NO_THROW(validate_train_config(c));
}

TEST(SettingsTable, FlagValuesAreTypedCheckedAndNamed) {
  TrainConfig c = valid();
  apply_train_flags(c, {{"lr", "0.5"}, {"epochs", "7"}, {"amp", "true"}, {"optimizer", "sgd"}, {"model_opt", "width=3"}});
  EXPECT_EQ(c.lr, 0.5);
  EXPECT_EQ(c.epochs, 7);
  EXPECT_TRUE(c.amp);
  EXPECT_EQ(c.optimizer, "sgd");
  EXPECT_EQ(c.model.model_params.to_string(), "width=3");
  // NaN is named as typed, never as JSON's null.
  auto msg = error_of([&] {
    TrainConfig d = valid();
    apply_train_flags(d, {{"lr", "nan"}});
    validate_train_config(d);
  });
  EXPECT_NE(msg.find("--lr nan"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("null"), std::string::npos) << msg;
  msg = error_of([&] {
    TrainConfig d = valid();
    apply_train_flags(d, {{"epochs", "ten"}});
  });
  EXPECT_NE(msg.find("--epochs ten"), std::string::npos) << msg;
  EXPECT_NE(msg.find("integer"), std::string::npos) << msg;
  struct Bad {
    const char* key;
    const char* value;
    const char* expect;
  };
  for (const Bad& b : {Bad{"epochs", "0", "--epochs 0"}, Bad{"optimizer", "adam", "adamw or sgd"},
                       Bad{"momentum", "1", "[0, 1)"}, Bad{"threads", "100000", "--threads 100000"},
                       Bad{"clip_mode", "l1", "norm, value or agc"}, Bad{"grad_accum_steps", "0", "--grad-accum-steps"},
                       Bad{"model_ema_decay", "1", "--model-ema-decay 1"}, Bad{"drop_path", "1.5", "--drop-path"},
                       Bad{"device_data", "maybe", "auto, on or off"}, Bad{"tta", "3", "--tta 3"}}) {
    msg = error_of([&] {
      TrainConfig d = valid();
      apply_train_flags(d, {{b.key, b.value}});
      validate_train_config(d);
    });
    EXPECT_NE(msg.find(b.expect), std::string::npos) << b.key << ": " << msg;
  }
  // Rules between settings.
  msg = error_of([&] {
    TrainConfig d = valid();
    d.cuda_graph = true;
    d.grad_accum_steps = 2;
    validate_train_config(d);
  });
  EXPECT_NE(msg.find("--grad-accum-steps"), std::string::npos) << msg;
  msg = error_of([&] {
    TrainConfig d = valid();
    d.reset_head = true;
    validate_train_config(d);
  });
  EXPECT_NE(msg.find("--initial-checkpoint"), std::string::npos) << msg;
}

TEST(SettingsTable, DocsTableIsTheGeneratedOne) {
  const std::string path = std::string(ATTNCNN_SOURCE_DIR) + "/docs/training.md";
  const std::string doc = read_all(path);
  const std::string begin = "<!-- settings-table:begin -->\n", end = "<!-- settings-table:end -->";
  const auto b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos) << path << " lacks " << begin;
  ASSERT_NE(e, std::string::npos) << path << " lacks " << end;
  const std::string have = doc.substr(b + begin.size(), e - b - begin.size());
  const std::string want = train_settings_markdown();
  if (have != want) {
    const std::string fresh = std::string(ATTNCNN_TEST_TMP) + "/settings-table.md";
    write_all(fresh, want);
    FAIL() << path << ": the settings table disagrees with the one in src/train/config.cpp; the generated table is in "
           << fresh << " (paste it between the markers)";
  }
}

TEST(SettingsTable, TrainHelpShowsEveryFlagByGroupWithDefaults) {
  auto r = run_cli("train --help");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const auto& s : train_settings()) {
    for (const auto& f : s.flags) EXPECT_NE(r.out.find(f), std::string::npos) << f;
    if (s.negatable) EXPECT_NE(r.out.find("--no-" + s.flags.front().substr(2)), std::string::npos) << s.key;
  }
  size_t last = 0;
  for (const char* g : {"Data", "Model", "Optimisation", "Augmentation", "Evaluation", "Speed", "Distributed", "Output"}) {
    const auto at = r.out.find(std::string(g) + ":");
    EXPECT_NE(at, std::string::npos) << g;
    EXPECT_GT(at, last) << g << " out of order";
    if (at != std::string::npos) last = at;
  }
  EXPECT_NE(r.out.find("0.003"), std::string::npos) << "the default learning rate is shown";
  // A flag given on the command line reaches the run: an out-of-range one is refused before anything is loaded.
  auto bad = run_cli("train --epochs 3 --lr -1 --out /nonexistent/x");
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("--lr -1"), std::string::npos) << bad.out;
}

TEST(SettingsFiles, FoldersSpecialFilesAndDeepNestingAreRefused) {
  const std::string dir = std::string(ATTNCNN_TEST_TMP) + "/settings_files";
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "/folder.yaml'").c_str());
  auto msg = error_of([&] { read_settings_file(dir + "/folder.yaml"); });
  EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
  ASSERT_EQ(std::system(("mkfifo '" + dir + "/fifo.yaml'").c_str()), 0);
  msg = error_of([&] { read_settings_file(dir + "/fifo.yaml"); });  // would block forever if opened
  EXPECT_NE(msg.find("fifo.yaml"), std::string::npos) << msg;
  // Deep nesting is refused by depth, not by running out of stack.
  std::string deep_yaml = "epochs:", deep_json = "{\"epochs\":";
  for (int i = 0; i < 100000; ++i) deep_yaml += " [", deep_json += "[";
  write_all(dir + "/deep.yaml", deep_yaml + "\n");
  write_all(dir + "/deep.json", deep_json);
  for (const char* f : {"/deep.yaml", "/deep.json"}) {
    msg = error_of([&] { read_settings_file(dir + f); });
    EXPECT_NE(msg.find(f + 1), std::string::npos) << msg;
  }
}
