#include "tests/docs/course.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
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

namespace {

// A shown line, read as a shape: each token matches a piece of a printed line.
enum class Kind { literal, number, blank, any };
struct Token {
  Kind kind;
  char c = 0;  // for a literal
};

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_blank(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::size_t skip_digits(std::string_view s, std::size_t i) {
  while (i < s.size() && is_digit(s[i])) ++i;
  return i;
}

// Where a number that starts at s[i] (a digit) may end: digits, then maybe a
// fraction, an exponent (Python's 5.9e-05), an SI suffix (Google Benchmark's
// 3.48979k). Longest first, as a regular expression would try them.
std::vector<std::size_t> number_ends(std::string_view s, std::size_t i) {
  std::vector<std::size_t> ends{skip_digits(s, i)};
  auto extend = [&](std::size_t at) {
    if (at + 1 < s.size() && s[at] == '.' && is_digit(s[at + 1])) at = skip_digits(s, at + 1);
    ends.push_back(at);
    std::size_t e = at;
    if (e < s.size() && s[e] == 'e') {
      ++e;
      if (e < s.size() && (s[e] == '-' || s[e] == '+')) ++e;
      if (e < s.size() && is_digit(s[e])) ends.push_back(at = skip_digits(s, e));
    }
    if (at < s.size() && std::string_view("kMG").find(s[at]) != std::string_view::npos) ends.push_back(at + 1);
  };
  extend(ends.front());
  std::sort(ends.begin(), ends.end(), std::greater<>());
  ends.erase(std::unique(ends.begin(), ends.end()), ends.end());
  return ends;
}

std::vector<Token> tokenize(std::string_view shown) {
  shown = trim(shown);
  std::vector<Token> tokens;
  for (std::size_t i = 0; i < shown.size();) {
    if (shown.substr(i).starts_with(kWildcard)) {
      tokens.push_back({Kind::any});
      i += kWildcard.size();
    } else if (is_digit(shown[i])) {
      tokens.push_back({Kind::number});
      i = number_ends(shown, i).front();
    } else if (is_blank(shown[i])) {
      tokens.push_back({Kind::blank});
      while (i < shown.size() && is_blank(shown[i])) ++i;
    } else {
      tokens.push_back({Kind::literal, shown[i++]});
    }
  }
  return tokens;
}

bool tokens_match(const std::vector<Token>& tokens, std::size_t t, std::string_view line, std::size_t i) {
  if (t == tokens.size()) return i == line.size();
  switch (tokens[t].kind) {
    case Kind::literal:
      return i < line.size() && line[i] == tokens[t].c && tokens_match(tokens, t + 1, line, i + 1);
    case Kind::blank: {
      if (i >= line.size() || !is_blank(line[i])) return false;
      while (i < line.size() && is_blank(line[i])) ++i;
      return tokens_match(tokens, t + 1, line, i);
    }
    case Kind::number:
      if (i >= line.size() || !is_digit(line[i])) return false;
      for (std::size_t end : number_ends(line, i))
        if (tokens_match(tokens, t + 1, line, end)) return true;
      return false;
    case Kind::any:
      for (std::size_t end = i; end <= line.size(); ++end)
        if (tokens_match(tokens, t + 1, line, end)) return true;
      return false;
  }
  return false;
}

bool line_matches(const std::vector<Token>& tokens, const std::string& line) {
  return tokens_match(tokens, 0, trim(line), 0);
}

// Can actual[j..] be paired one to one with patterns not yet `used`? Extra
// actual lines are fine if `extra`. Backtracking: outputs here are a few lines.
bool pair_up(const std::vector<std::vector<Token>>& patterns, const std::vector<std::string>& actual,
             std::size_t j, std::vector<char>& used, bool extra) {
  if (j == actual.size()) return std::find(used.begin(), used.end(), 0) == used.end();
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (used[i] || !line_matches(patterns[i], actual[j])) continue;
    used[i] = 1;
    if (pair_up(patterns, actual, j + 1, used, extra)) return true;
    used[i] = 0;
  }
  return extra && pair_up(patterns, actual, j + 1, used, extra);
}

}  // namespace

bool line_has_shape(std::string_view shown, const std::string& line) {
  return line_matches(tokenize(shown), line);
}

bool has_shape(const std::vector<std::string>& shown, const std::vector<std::string>& actual, bool unordered) {
  std::vector<std::optional<std::vector<Token>>> patterns;
  for (const auto& s : shown) patterns.push_back(trim(s) == kWildcard ? std::nullopt : std::optional(tokenize(s)));
  if (unordered) {
    std::vector<std::vector<Token>> lines;
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
        fits[i][j] = j < m && fits[i + 1][j + 1] && line_matches(*patterns[i], actual[j]);
      }
    }
  }
  return fits[0][0] != 0;
}

}  // namespace muxlab::docs
