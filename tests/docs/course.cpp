#include "tests/docs/course.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
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

// The pieces of a printed line that the number tokens matched, in order.
using Spans = std::vector<std::string_view>;

bool tokens_match(const std::vector<Token>& tokens, std::size_t t, std::string_view line, std::size_t i,
                  Spans& numbers) {
  if (t == tokens.size()) return i == line.size();
  switch (tokens[t].kind) {
    case Kind::literal:
      return i < line.size() && line[i] == tokens[t].c && tokens_match(tokens, t + 1, line, i + 1, numbers);
    case Kind::blank: {
      if (i >= line.size() || !is_blank(line[i])) return false;
      while (i < line.size() && is_blank(line[i])) ++i;
      return tokens_match(tokens, t + 1, line, i, numbers);
    }
    case Kind::number:
      if (i >= line.size() || !is_digit(line[i])) return false;
      for (std::size_t end : number_ends(line, i)) {
        numbers.push_back(line.substr(i, end - i));
        if (tokens_match(tokens, t + 1, line, end, numbers)) return true;
        numbers.pop_back();
      }
      return false;
    case Kind::any:
      for (std::size_t end = i; end <= line.size(); ++end)
        if (tokens_match(tokens, t + 1, line, end, numbers)) return true;
      return false;
  }
  return false;
}

bool line_matches(const std::vector<Token>& tokens, const std::string& line, Spans* numbers = nullptr) {
  Spans ignored;
  return tokens_match(tokens, 0, trim(line), 0, numbers != nullptr ? *numbers : ignored);
}

std::size_t count_numbers(std::string_view shown) {
  const auto tokens = tokenize(shown);
  return static_cast<std::size_t>(
      std::count_if(tokens.begin(), tokens.end(), [](const Token& t) { return t.kind == Kind::number; }));
}

// 259.072, 35, 5.9e-05, and Google Benchmark's 3.48979k (3489.79).
std::optional<double> parse_figure(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double scale = 1;
  switch (text.back()) {
    case 'k': scale = 1e3; break;
    case 'M': scale = 1e6; break;
    case 'G': scale = 1e9; break;
    default: break;
  }
  if (scale != 1) text.remove_suffix(1);
  const std::string copy(text);
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size()) return std::nullopt;
  return value * scale;
}

// Can actual[j..] be paired one to one with patterns not yet `used`? Extra
// actual lines are fine if `extra`. Backtracking: outputs here are a few lines.
// used[i] is the actual line pattern i took, once it took one.
bool pair_up(const std::vector<std::vector<Token>>& patterns, const std::vector<std::string>& actual,
             std::size_t j, std::vector<std::optional<std::size_t>>& used, bool extra) {
  if (j == actual.size()) return std::all_of(used.begin(), used.end(), [](const auto& u) { return u.has_value(); });
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (used[i] || !line_matches(patterns[i], actual[j])) continue;
    used[i] = j;
    if (pair_up(patterns, actual, j + 1, used, extra)) return true;
    used[i].reset();
  }
  return extra && pair_up(patterns, actual, j + 1, used, extra);
}

// `range "eagain 910" 500..1100`: finds the one shown line of `example` that
// holds TEXT, and the last number of TEXT in it.
void add_range(std::string_view value, Example& example, const std::string& file, std::size_t index) {
  const std::string usage = "a range reads `range \"TEXT\" LOW..HIGH`";
  if (!value.starts_with('"')) fail(file, index, usage);
  const auto close = value.find('"', 1);
  const auto dots = value.find("..", close == std::string_view::npos ? 0 : close);
  if (close == std::string_view::npos || dots == std::string_view::npos) fail(file, index, usage);
  Range range;
  range.text = std::string(value.substr(1, close - 1));
  const auto low = parse_figure(trim(value.substr(close + 1, dots - close - 1)));
  const auto high = parse_figure(trim(value.substr(dots + 2)));
  if (!low || !high || *low > *high) fail(file, index, usage + " (LOW <= HIGH, two numbers)");
  range.low = *low;
  range.high = *high;
  Command* holder = nullptr;
  for (auto& command : example.commands) {
    for (std::size_t k = 0; k < command.expected.size(); ++k) {
      const std::string& line = command.expected[k];
      const auto at = line.find(range.text);
      if (at == std::string::npos) continue;
      if (holder != nullptr) fail(file, index, "range \"" + range.text + "\" is in more than one shown line");
      const auto end = at + range.text.size();
      const std::size_t before = count_numbers(std::string_view(line).substr(0, end));
      if (count_numbers(range.text) == 0 || (end < line.size() && is_digit(line[end]) && is_digit(line[end - 1])))
        fail(file, index, "range \"" + range.text + "\" must hold a whole shown figure");
      holder = &command;
      range.shown = k;
      range.number = before - 1;
      // The chapter must agree with itself: the figure it shows is in its range.
      const auto shown = figures(line, line);
      if (shown.size() <= range.number || shown[range.number] < range.low || shown[range.number] > range.high)
        fail(file, index, "the figure shown in \"" + range.text + "\" is outside its own range");
    }
  }
  if (holder == nullptr) fail(file, index, "range \"" + range.text + "\" is in no shown line of this block");
  holder->ranges.push_back(std::move(range));
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
    } else if (key == "range") {
      add_range(value, example, file, index);
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
        Command command;
        command.text = std::string(line.substr(2));
        command.line = static_cast<int>(i + 1);
        block.commands.push_back(std::move(command));
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

bool line_has_shape(std::string_view shown, const std::string& line) {
  return line_matches(tokenize(shown), line);
}

std::vector<double> figures(std::string_view shown, const std::string& line) {
  Spans numbers;
  if (!line_matches(tokenize(shown), line, &numbers)) return {};
  std::vector<double> values;
  for (auto n : numbers) values.push_back(parse_figure(n).value_or(0));
  return values;
}

std::optional<Alignment> align(const std::vector<std::string>& shown, const std::vector<std::string>& actual,
                               bool unordered) {
  std::vector<std::optional<std::vector<Token>>> patterns;
  for (const auto& s : shown) patterns.push_back(trim(s) == kWildcard ? std::nullopt : std::optional(tokenize(s)));
  Alignment alignment(shown.size());
  if (unordered) {
    std::vector<std::vector<Token>> lines;
    std::vector<std::size_t> index;  // lines[k] is shown[index[k]]
    for (std::size_t i = 0; i < patterns.size(); ++i)
      if (patterns[i]) {
        lines.push_back(*patterns[i]);
        index.push_back(i);
      }
    std::vector<std::optional<std::size_t>> used(lines.size());
    if (!pair_up(lines, actual, 0, used, lines.size() < patterns.size())) return std::nullopt;
    for (std::size_t k = 0; k < lines.size(); ++k) alignment[index[k]] = used[k];
    return alignment;
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
  if (!fits[0][0]) return std::nullopt;
  // Walk one matching path: a `...` takes lines only while the rest cannot match without them.
  for (std::size_t i = 0, j = 0; i < n;) {
    if (!patterns[i]) {
      if (fits[i + 1][j]) ++i;
      else ++j;
    } else {
      alignment[i] = j++;
      ++i;
    }
  }
  return alignment;
}

bool has_shape(const std::vector<std::string>& shown, const std::vector<std::string>& actual, bool unordered) {
  return align(shown, actual, unordered).has_value();
}

std::vector<std::string> figures_out_of_range(const Command& command, const std::vector<std::string>& actual) {
  std::vector<std::string> problems;
  if (command.ranges.empty()) return problems;
  const auto alignment = align(command.expected, actual, command.unordered);
  if (!alignment) return problems;
  for (const Range& r : command.ranges) {
    const auto printed = (*alignment)[r.shown];
    const auto values = figures(command.expected[r.shown], actual[*printed]);
    const double value = values.at(r.number);
    if (value >= r.low && value <= r.high) continue;
    char bounds[96];
    std::snprintf(bounds, sizeof bounds, "%g, outside the range %g..%g", value, r.low, r.high);
    problems.push_back("\"" + r.text + "\" printed " + bounds + " that the chapter gives: " + actual[*printed]);
  }
  return problems;
}

}  // namespace muxlab::docs
