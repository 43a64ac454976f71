#include "tests/docs/course.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <regex>
#include <stdexcept>

namespace muxlab::docs {

namespace {

constexpr std::string_view kWildcard = "...";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

[[noreturn]] void fail(const std::string& file, std::size_t index, const std::string& what) {
  throw std::runtime_error(file + ":" + std::to_string(index + 1) + ": " + what);
}

std::string gtest_name(const std::string& file, std::size_t ordinal) {
  std::string name;
  for (char c : file.substr(0, file.rfind(".md")))
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name + "_" + std::to_string(ordinal);
}

// `needs ss; timeout 20; continues` applied to `example`; returns "continues".
bool apply_directives(std::string_view text, Example& example, const std::string& file, std::size_t index) {
  bool continues = false;
  while (!text.empty()) {
    auto semi = text.find(';');
    std::string_view item = trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
    if (item.empty()) continue;
    auto space = item.find(' ');
    std::string_view key = item.substr(0, space);
    std::string value(space == std::string_view::npos ? std::string_view{} : trim(item.substr(space)));
    if (key == "continues" && value.empty()) {
      continues = true;
    } else if (key == "unordered" && value.empty()) {
      for (auto& command : example.commands) command.unordered = true;
    } else if (key == "needs" && !value.empty()) {
      example.needs.push_back(value);
    } else if (key == "timeout" && !value.empty() && value.find_first_not_of("0123456789") == std::string::npos) {
      example.timeout = std::chrono::seconds(std::stoi(value));
    } else {
      fail(file, index, "unknown docs-test directive '" + std::string(item) + "'");
    }
  }
  return continues;
}

}  // namespace

bool Command::background() const { return trim(text).ends_with('&') && !trim(text).ends_with("&&"); }

std::vector<Example> parse_examples(std::string_view markdown, const std::string& file) {
  const auto lines = split_lines(markdown);
  std::vector<Example> examples;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view fence = trim_right(lines[i]);
    if (!fence.starts_with("```")) continue;
    const bool console = trim(fence.substr(3)) == "console";
    Example block;
    block.file = file;
    block.line = static_cast<int>(i + 1);
    const std::size_t open = i;
    for (++i; i < lines.size() && !trim_right(lines[i]).starts_with("```"); ++i) {
      if (!console) continue;  // other blocks (```sh, ```cpp) are not run
      std::string_view line = trim_right(lines[i]);
      if (line.starts_with("$ ")) {
        block.commands.push_back({std::string(line.substr(2)), {}, static_cast<int>(i + 1)});
      } else if ((line.starts_with("> ") || line == ">") && !block.commands.empty() &&
                 block.commands.back().expected.empty()) {
        block.commands.back().text += "\n" + std::string(line.substr(std::min<std::size_t>(2, line.size())));
      } else if (block.commands.empty()) {
        fail(file, i, "output shown before any `$ command` line");
      } else {
        block.commands.back().expected.emplace_back(line);
      }
    }
    if (i == lines.size()) fail(file, open, "code block never closed");
    if (!console) continue;
    if (block.commands.empty()) fail(file, open, "console block without a `$ command` line");

    // A directive comment, if any, is the next non-blank line.
    std::size_t next = i + 1;
    while (next < lines.size() && trim(lines[next]).empty()) ++next;
    bool continues = false;
    constexpr std::string_view kOpen = "<!-- docs-test:";
    if (next < lines.size() && trim(lines[next]).starts_with(kOpen)) {
      std::string_view comment = trim(lines[next]);
      if (!comment.ends_with("-->")) fail(file, next, "a docs-test comment must fit on one line");
      comment = comment.substr(kOpen.size(), comment.size() - kOpen.size() - 3);
      continues = apply_directives(comment, block, file, next);
    }
    if (continues) {
      if (examples.empty()) fail(file, open, "'continues' with no example before it");
      Example& previous = examples.back();
      for (auto& c : block.commands) previous.commands.push_back(std::move(c));
      for (auto& n : block.needs) previous.needs.push_back(std::move(n));
      previous.timeout += block.timeout;
    } else {
      block.name = gtest_name(file, examples.size() + 1);
      examples.push_back(std::move(block));
    }
  }
  return examples;
}

std::string line_pattern(std::string_view shown) {
  shown = trim(shown);
  std::string pattern;
  while (!shown.empty()) {
    const char c = shown.front();
    if (shown.starts_with(kWildcard)) {
      pattern += ".*";
      shown.remove_prefix(kWildcard.size());
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      // A number: digits, maybe a fraction, an exponent (Python's 5.9e-05) or
      // an SI suffix as Google Benchmark prints them (259.072, 35, 3.48979k).
      pattern += "\\d+(\\.\\d+)?(e[-+]?\\d+)?[kMG]?";
      auto skip_digits = [&shown] {
        while (!shown.empty() && std::isdigit(static_cast<unsigned char>(shown.front()))) shown.remove_prefix(1);
      };
      skip_digits();
      if (shown.size() >= 2 && shown[0] == '.' && std::isdigit(static_cast<unsigned char>(shown[1]))) {
        shown.remove_prefix(1);
        skip_digits();
      }
      if (shown.size() >= 3 && shown[0] == 'e' && (shown[1] == '-' || shown[1] == '+') &&
          std::isdigit(static_cast<unsigned char>(shown[2]))) {
        shown.remove_prefix(2);
        skip_digits();
      }
      if (!shown.empty() && std::string_view("kMG").find(shown.front()) != std::string_view::npos &&
          (shown.size() == 1 || !std::isalnum(static_cast<unsigned char>(shown[1]))))
        shown.remove_prefix(1);
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      pattern += "\\s+";
      while (!shown.empty() && std::isspace(static_cast<unsigned char>(shown.front()))) shown.remove_prefix(1);
    } else {
      if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) pattern += '\\';
      pattern += c;
      shown.remove_prefix(1);
    }
  }
  return pattern;
}

namespace {

// Can actual[j..] be paired one to one with patterns not yet `used`? Extra
// actual lines are fine if `extra`. Backtracking: outputs here are a few lines.
bool pair_up(const std::vector<std::regex>& patterns, const std::vector<std::string>& actual, std::size_t j,
             std::vector<char>& used, bool extra) {
  if (j == actual.size()) return std::find(used.begin(), used.end(), 0) == used.end();
  const std::string line(trim(actual[j]));
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (used[i] || !std::regex_match(line, patterns[i])) continue;
    used[i] = 1;
    if (pair_up(patterns, actual, j + 1, used, extra)) return true;
    used[i] = 0;
  }
  return extra && pair_up(patterns, actual, j + 1, used, extra);
}

}  // namespace

bool has_shape(const std::vector<std::string>& shown, const std::vector<std::string>& actual, bool unordered) {
  std::vector<std::optional<std::regex>> patterns;
  for (const auto& s : shown)
    patterns.push_back(trim(s) == kWildcard ? std::nullopt : std::optional(std::regex(line_pattern(s))));
  if (unordered) {
    std::vector<std::regex> lines;
    for (auto& p : patterns)
      if (p) lines.push_back(*p);
    std::vector<char> used(lines.size(), 0);
    return pair_up(lines, actual, 0, used, lines.size() < patterns.size());
  }
  // Glob matching over lines: fits[i][j] = shown[i..] matches actual[j..].
  const std::size_t n = shown.size(), m = actual.size();
  std::vector<std::vector<char>> fits(n + 1, std::vector<char>(m + 1, 0));
  fits[n][m] = 1;
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m + 1; j-- > 0;) {
      if (!patterns[i]) {
        fits[i][j] = fits[i + 1][j] || (j < m && fits[i][j + 1]);  // take no line, or one more
      } else {
        fits[i][j] = j < m && fits[i + 1][j + 1] &&
                     std::regex_match(std::string(trim(actual[j])), *patterns[i]);
      }
    }
  }
  return fits[0][0] != 0;
}

}  // namespace muxlab::docs
