#pragma once
/// A registry of named entries, the one kind of lookup table behind attention modules, models and datasets.
///
///   struct ToolEntry { std::string name, summary; int weight = 0; };
///   attncnn::Registry<ToolEntry> tools("tool", [](attncnn::Registry<ToolEntry>& r) {
///     r.add({"hammer", "drives nails", 3});
///   });
///   tools.add_alias({"mallet", "hammer", "a softer hammer"});
///   tools.find("mallet").weight;   // 3
///   tools.find("hamer");           // throws: unknown tool 'hamer'; did you mean 'hammer'? valid names: hammer, mallet
///
/// Entry is any copyable type with `std::string name` and `std::string summary` members. Names are case-sensitive;
/// entries() and names() are sorted by name.
///
/// Built-ins are registered lazily: the function given to the constructor runs once, on the first call of any
/// member (add included, so an entry added by a user replaces a built-in of the same name rather than being
/// replaced by it). It may call add/add_alias on the registry it is given; it must not call find on entries it
/// has not added yet. All members are safe to call from several threads; find returns a copy, so an entry read
/// stays valid while another thread adds.
///
/// Aliases are other names of an entry: find(alias) returns the target's entry, aliases() lists them (with their
/// own summary, e.g. what else the alias implies), names() does not. An alias points at an entry, never at another
/// alias.
///
/// Errors: find of an unknown name throws attncnn::Error (input) naming the kind, the name, the closest valid name
/// when one is close ("did you mean"), and every valid name. Adding an entry under an alias's name, an alias under
/// an entry's name, an alias of an unknown target, or an empty or reserved name throws attncnn::Error (runtime):
/// those are mistakes in the registering code, not in user input.
#include <attncnn/error.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace attncnn {

/// Levenshtein distance between `a` and `b`, ignoring ASCII case.
inline size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      const size_t next = std::min({row[j] + 1, row[j - 1] + 1, diag + (same ? 0 : 1)});
      diag = row[j];
      row[j] = next;
    }
  }
  return row[b.size()];
}

/// The candidate closest to `name` when it is close enough to be a likely typo (at most 1 edit for names of up
/// to 3 characters, else max(2, length/3)); the first in order among equally close ones; "" when none is.
inline std::string closest_name(const std::string& name, const std::vector<std::string>& candidates) {
  const size_t limit = name.size() <= 3 ? 1 : std::max<size_t>(2, name.size() / 3);
  std::string best;
  size_t best_d = limit + 1;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(name, c);
    if (d < best_d) best = c, best_d = d;
  }
  return best;
}

template <class Entry>
class Registry {
 public:
  struct Alias {
    std::string name;     ///< the other name: "seresnet50"
    std::string target;   ///< the entry it stands for: "resnet50"
    std::string summary;  ///< one line for listings: "resnet50 + attn se"
  };
  using Builtins = std::function<void(Registry&)>;

  /// `kind` names the entries in errors ("model", "attention module"). `reserved` are names that are valid input
  /// but no entry (attention's "none"): they cannot be registered and are listed first in the error for an unknown
  /// name.
  explicit Registry(std::string kind, Builtins builtins = {}, std::vector<std::string> reserved = {})
      : kind_(std::move(kind)), builtins_(std::move(builtins)), reserved_(std::move(reserved)) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  const std::string& kind() const { return kind_; }

  /// Adds `entry`; an entry of the same name is replaced.
  void add(Entry entry) {
    Lock lock(mutex_);
    load();
    check_new_name(entry.name);
    if (aliases_.count(entry.name))
      runtime_error(kind_ + " '" + entry.name + "': already an alias of '" + aliases_.at(entry.name).target + "'");
    std::string name = entry.name;
    entries_[name] = std::move(entry);
  }

  /// Adds another name for a registered entry; an alias of the same name is replaced.
  void add_alias(Alias alias) {
    Lock lock(mutex_);
    load();
    check_new_name(alias.name);
    if (entries_.count(alias.name)) runtime_error(kind_ + " alias '" + alias.name + "': already a " + kind_ + " name");
    if (!entries_.count(alias.target))
      runtime_error(kind_ + " alias '" + alias.name + "': target '" + alias.target + "' is not a registered " + kind_);
    std::string name = alias.name;
    aliases_[name] = std::move(alias);
  }

  /// Whether `name` is an entry or an alias.
  bool contains(const std::string& name) const {
    Lock lock(mutex_);
    load();
    return entries_.count(name) || aliases_.count(name);
  }

  /// Whether `name` is an alias (and not an entry).
  bool is_alias(const std::string& name) const {
    Lock lock(mutex_);
    load();
    return aliases_.count(name) != 0;
  }

  /// The entry called `name`, or the one alias `name` stands for; throws (input error) when there is neither.
  Entry find(const std::string& name) const {
    Lock lock(mutex_);
    load();
    const auto a = aliases_.find(name);
    const auto e = entries_.find(a == aliases_.end() ? name : a->second.target);
    if (e == entries_.end()) input_error(unknown_message(name));
    return e->second;
  }

  /// The entry name `name` stands for: the target of an alias, `name` itself for an entry; throws (input error)
  /// like find.
  std::string canonical(const std::string& name) const { return find(name).name; }

  /// Entry names, sorted (aliases not included).
  std::vector<std::string> names() const {
    Lock lock(mutex_);
    load();
    std::vector<std::string> out;
    for (const auto& kv : entries_) out.push_back(kv.first);
    return out;
  }

  /// Entries, sorted by name.
  std::vector<Entry> entries() const {
    Lock lock(mutex_);
    load();
    std::vector<Entry> out;
    for (const auto& kv : entries_) out.push_back(kv.second);
    return out;
  }

  /// Aliases, sorted by name.
  std::vector<Alias> aliases() const {
    Lock lock(mutex_);
    load();
    std::vector<Alias> out;
    for (const auto& kv : aliases_) out.push_back(kv.second);
    return out;
  }

  /// The error text for an unknown `name`: "unknown KIND 'NAME'; did you mean 'X'? valid names: ...".
  std::string unknown_message(const std::string& name) const {
    Lock lock(mutex_);
    load();
    std::vector<std::string> valid = reserved_;
    for (const auto& kv : entries_) valid.push_back(kv.first);
    for (const auto& kv : aliases_) valid.push_back(kv.first);
    std::string msg = "unknown " + kind_ + " '" + name + "'";
    const std::string near = closest_name(name, valid);
    if (!near.empty()) msg += "; did you mean '" + near + "'?";
    msg += near.empty() ? "; valid names: " : " valid names: ";
    for (size_t i = 0; i < valid.size(); ++i) msg += (i ? ", " : "") + valid[i];
    return msg;
  }

 private:
  // Recursive: the built-in registration runs under the lock and calls add, which locks again. Holding the lock
  // for the whole registration makes other threads wait until the built-ins are complete.
  using Lock = std::lock_guard<std::recursive_mutex>;
  enum class State { Empty, Loading, Loaded };

  // Runs the built-in registration once; the caller holds the lock. Re-entered from inside the registration
  // (state Loading, same thread: no other thread can hold the lock meanwhile), it does nothing.
  void load() const {
    if (state_ != State::Empty) return;
    state_ = State::Loading;
    try {
      if (builtins_) builtins_(const_cast<Registry&>(*this));
    } catch (...) {
      state_ = State::Empty;
      throw;
    }
    state_ = State::Loaded;
  }

  void check_new_name(const std::string& name) const {
    if (name.empty()) runtime_error(kind_ + ": cannot register an empty name");
    if (std::find(reserved_.begin(), reserved_.end(), name) != reserved_.end())
      runtime_error(kind_ + " '" + name + "': a reserved name, not registrable");
  }

  std::string kind_;
  Builtins builtins_;
  std::vector<std::string> reserved_;
  mutable std::recursive_mutex mutex_;
  mutable State state_ = State::Empty;
  // Mutable: lazy loading fills them from const members.
  mutable std::map<std::string, Entry> entries_;
  mutable std::map<std::string, Alias> aliases_;
};

}  // namespace attncnn
