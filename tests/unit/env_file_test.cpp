// Unit tests of the `.env` parser: what each kind of line yields, and the
// "PATH:LINE: why" message of each kind of malformed line.
#include "env_file.hpp"

#include "support/test_helpers.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace chathost {
namespace {

constexpr const char* kPath = "test.env";

// Each key of a file with its value and the line that set it: the whole
// outcome of parsing, to compare at once.
using Entries = std::map<std::string, std::pair<std::string, int>>;

Entries entries(const EnvFile& file) {
  Entries out;
  for (const auto& [key, entry] : file.values) out[key] = {entry.value, entry.line};
  return out;
}

Entries entries_of(std::string_view text) { return entries(parse_env_file(text, kPath)); }

// The value of `key` in `text`, failing the test when it is absent.
std::string value_of(std::string_view text, const std::string& key) {
  const EnvFile file = parse_env_file(text, kPath);
  auto it = file.values.find(key);
  if (it == file.values.end()) {
    ADD_FAILURE() << "no " << key << " in:\n" << text;
    return "<missing>";
  }
  return it->second.value;
}

// The message of the EnvFileError that parsing `text` throws, or "" (with a
// test failure) when it throws nothing.
std::string error_of(std::string_view text) {
  try {
    parse_env_file(text, kPath);
  } catch (const EnvFileError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no EnvFileError for:\n" << text;
  return "";
}

// The name of a table-driven test: its case's.
template <typename Case>
std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

// ---------------------------------------------------------------------------
// Plain lines

TEST(EnvFileParse, EmptyTextYieldsNoValuesAndKeepsThePath) {
  const EnvFile file = parse_env_file("", "dir/app.env");
  EXPECT_EQ(file.path, "dir/app.env");
  EXPECT_TRUE(file.values.empty());
}

TEST(EnvFileParse, SimpleKeyValueRecordsValueAndLine) {
  EXPECT_EQ(entries_of("GRPC_PORT=50051\n"), (Entries{{"GRPC_PORT", {"50051", 1}}}));
}

TEST(EnvFileParse, LastLineWithoutNewlineIsRead) {
  EXPECT_EQ(entries_of("A=1\nB=2"), (Entries{{"A", {"1", 1}}, {"B", {"2", 2}}}));
}

TEST(EnvFileParse, KeyMayContainDigitsUnderscoresDotsAndDashes) {
  EXPECT_EQ(entries_of("_a.B-c_9=x\n"), (Entries{{"_a.B-c_9", {"x", 1}}}));
}

TEST(EnvFileParse, KeysAreCaseSensitive) {
  EXPECT_EQ(entries_of("key=lower\nKEY=upper\n"), (Entries{{"key", {"lower", 1}}, {"KEY", {"upper", 2}}}));
}

TEST(EnvFileParse, LineNumbersCountCommentsAndBlankLines) {
  EXPECT_EQ(entries_of("# header\n"
                       "\n"
                       "A=1\n"
                       "   \n"
                       "# another\n"
                       "B=2\n"
                       "\n"
                       "C=3\n"),
            (Entries{{"A", {"1", 3}}, {"B", {"2", 6}}, {"C", {"3", 8}}}));
}

TEST(EnvFileParse, LastDuplicateWinsWithItsLine) {
  EXPECT_EQ(entries_of("PORT=1\nOTHER=x\nPORT=2\nPORT=3\n"), (Entries{{"OTHER", {"x", 2}}, {"PORT", {"3", 4}}}));
}

TEST(EnvFileParse, LaterEmptyDuplicateOverridesEarlierValue) {
  EXPECT_EQ(entries_of("PORT=1\nPORT=\n"), (Entries{{"PORT", {"", 2}}}));
}

// ---------------------------------------------------------------------------
// Comments

TEST(EnvFileComments, FullLineCommentsAreSkipped) {
  EXPECT_EQ(entries_of("# A=1\n   # B=2\n\t# C=3\nD=4\n"), (Entries{{"D", {"4", 4}}}));
}

TEST(EnvFileComments, CommentOnlyFileYieldsNothing) {
  EXPECT_TRUE(parse_env_file("# just a comment\n#\n", kPath).values.empty());
}

// ---------------------------------------------------------------------------
// export, empty values, whitespace, line endings

TEST(EnvFileExport, ExportPrefixIsStripped) {
  EXPECT_EQ(entries_of("export GRPC_HOST=localhost\n"), (Entries{{"GRPC_HOST", {"localhost", 1}}}));
}

TEST(EnvFileExport, KeyStartingWithExportIsNotAPrefix) {
  EXPECT_EQ(entries_of("exporter=otlp\nexport=yes\n"), (Entries{{"exporter", {"otlp", 1}}, {"export", {"yes", 2}}}));
}

TEST(EnvFileEmpty, BareEmptyValue) { EXPECT_EQ(entries_of("EMPTY=\n"), (Entries{{"EMPTY", {"", 1}}})); }

TEST(EnvFileWhitespace, BlanksAroundKeyAndValueAreTrimmed) {
  EXPECT_EQ(entries_of("  \tGRPC_PORT \t =  50051 \t\n"), (Entries{{"GRPC_PORT", {"50051", 1}}}));
}

TEST(EnvFileLineEndings, CrlfLinesParseLikeLf) {
  EXPECT_EQ(entries_of("# comment\r\n"
                       "A=bare\r\n"
                       "B=\"double\"\r\n"
                       "C='single'\r\n"
                       "D=\r\n"
                       "E=value # comment\r\n"),
            (Entries{{"A", {"bare", 2}}, {"B", {"double", 3}}, {"C", {"single", 4}}, {"D", {"", 5}}, {"E", {"value", 6}}}));
}

TEST(EnvFileLineEndings, CrlfBlankLinesAreSkipped) {
  EXPECT_EQ(entries_of("\r\n\r\nA=1\r\n"), (Entries{{"A", {"1", 3}}}));
}

// ---------------------------------------------------------------------------
// One line, one value: what each kind of value gives its key

struct ValueCase {
  const char* name;  // the test's name
  const char* text;  // the .env file
  const char* key;
  const char* value;  // what `key` holds
};

void PrintTo(const ValueCase& c, std::ostream* out) { *out << c.name; }

class EnvFileValue : public ::testing::TestWithParam<ValueCase> {};

TEST_P(EnvFileValue, IsWhatTheLineSays) {
  EXPECT_EQ(value_of(GetParam().text, GetParam().key), GetParam().value);
}

const ValueCase kValues[] = {
    // Plain values
    {"ValueMayContainEqualsSigns", "DSN=user=me;password=x=y\n", "DSN", "user=me;password=x=y"},
    // Comments
    {"InlineCommentAfterBlankEndsBareValue", "HOST=localhost # the gRPC host\n", "HOST", "localhost"},
    {"InlineCommentAfterTabEndsBareValue", "HOST=localhost\t# the gRPC host\n", "HOST", "localhost"},
    {"InlineCommentKeepsBlanksInsideTheValue", "NAME=Ada  Lovelace   # admin name\n", "NAME", "Ada  Lovelace"},
    {"InlineCommentOnlyStartsAtFirstBlankHash", "V=a#b # c # d\n", "V", "a#b"},
    {"HashWithoutBlankBeforeIsKeptInABareColour", "COLOR=#ff0000\n", "COLOR", "#ff0000"},
    {"HashWithoutBlankBeforeIsKeptInABareUrl", "URL=http://host/page#anchor\n", "URL", "http://host/page#anchor"},
    {"HashWithoutBlankBeforeIsKeptInABarePassword", "PASS=abc#def\n", "PASS", "abc#def"},
    {"CommentAfterEqualsAndBlankLeavesValueEmpty", "ADMIN_EMAIL= # set me\n", "ADMIN_EMAIL", ""},
    {"CommentAfterEqualsAndTabLeavesValueEmpty", "ADMIN_EMAIL=\t# set me\n", "ADMIN_EMAIL", ""},
    {"HashInsideDoubleQuotesIsKept", "GREETING=\"hello # world\"\n", "GREETING", "hello # world"},
    {"HashInsideSingleQuotesIsKept", "GREETING='hello # world'\n", "GREETING", "hello # world"},
    {"CommentAfterClosingDoubleQuoteIsIgnored", "A=\"quoted\" # comment\n", "A", "quoted"},
    {"CommentAfterClosingSingleQuoteAndBlanksIsIgnored", "B='quoted'   # comment\n", "B", "quoted"},
    {"CommentRightAfterClosingQuoteIsIgnored", "C=\"quoted\"# comment\n", "C", "quoted"},
    // Quotes
    {"SingleQuotesAreLiteral", R"(RAW='a\nb\t"c"\\d')" "\n", "RAW", R"(a\nb\t"c"\\d)"},
    {"SingleQuotesKeepLeadingAndTrailingBlanks", "PAD='  padded  '\n", "PAD", "  padded  "},
    {"DoubleQuotesKeepLeadingAndTrailingBlanks", "PAD=\"  padded  \"\n", "PAD", "  padded  "},
    {"DoubleQuotesExpandNewlineAndTab", R"(MSG="line1\nline2\tend")" "\n", "MSG", "line1\nline2\tend"},
    {"DoubleQuotesExpandEscapedQuoteAndBackslash", R"(MSG="say \"hi\" C:\\dir")" "\n", "MSG", R"(say "hi" C:\dir)"},
    {"DoubleQuotesExpandCarriageReturn", R"(MSG="a\rb")" "\n", "MSG", "a\rb"},
    {"EscapedBackslashJustBeforeClosingQuote", R"(DIR="C:\\")" "\n", "DIR", "C:\\"},
    {"DoubleQuoteInsideSingleQuotesIsKept", "A='say \"hi\"'\n", "A", "say \"hi\""},
    {"SingleQuoteInsideDoubleQuotesIsKept", "B=\"it's\"\n", "B", "it's"},
    {"QuotesInsideBareValueAreKept", "A=it's \"fine\"\n", "A", "it's \"fine\""},
    // export
    {"ExportWithSeveralBlanksIsStripped", "export    A=1\n", "A", "1"},
    {"ExportWithTabIsStripped", "export\tB=2\n", "B", "2"},
    {"IndentedExportWithBlanksAroundEqualsIsStripped", "  export C = 3\n", "C", "3"},
    {"ExportWithQuotedValue", "export A=\"x y\"\n", "A", "x y"},
    // Empty values
    {"EmptyDoubleQuotes", "EMPTY=\"\"\n", "EMPTY", ""},
    {"EmptySingleQuotes", "EMPTY=''\n", "EMPTY", ""},
    {"BlanksOnlyValueIsEmpty", "EMPTY=   \t \n", "EMPTY", ""},
    // Whitespace
    {"BlanksBeforeOpeningQuoteAreIgnored", "A =   \"x\"  \n", "A", "x"},
};
INSTANTIATE_TEST_SUITE_P(EnvFile, EnvFileValue, ::testing::ValuesIn(kValues), case_name<ValueCase>);

// ---------------------------------------------------------------------------
// Malformed lines: each throws "PATH:LINE: why"

struct ErrorCase {
  const char* name;  // the test's name
  const char* text;  // the .env file
  int line;          // the malformed one
  const char* why;
};

void PrintTo(const ErrorCase& c, std::ostream* out) { *out << c.name; }

class MalformedLine : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(MalformedLine, SaysWhereAndWhy) {
  const ErrorCase& c = GetParam();
  EXPECT_EQ(error_of(c.text), std::string(kPath) + ":" + std::to_string(c.line) + ": " + c.why);
}

const ErrorCase kMalformedLines[] = {
    {"LineWithoutEqualsSign", "A=1\nJUST_A_WORD\n", 2, "expected KEY=VALUE, got 'JUST_A_WORD'"},
    {"ExportWithoutAssignment", "export GRPC_PORT\n", 1, "expected KEY=VALUE, got 'GRPC_PORT'"},
    {"KeyStartingWithDigit", "1ABC=x\n", 1, "invalid variable name '1ABC'"},
    {"KeyWithInnerBlank", "\n\nA B=x\n", 3, "invalid variable name 'A B'"},
    {"KeyWithInvalidCharacter", "A$B=x\n", 1, "invalid variable name 'A$B'"},
    {"EmptyKey", "=value\n", 1, "invalid variable name ''"},
    {"UnterminatedDoubleQuote", "OK=1\nMSG=\"never closed\n", 2, "unterminated \" quote"},
    {"UnterminatedSingleQuote", "MSG='never closed\n", 1, "unterminated ' quote"},
    {"EscapedClosingQuoteLeavesQuoteUnterminated", R"(MSG="abc\")" "\n", 1, "unterminated \" quote"},
    // Multi-line values are not supported: the line ends the quote.
    {"QuoteDoesNotSpanLines", "MSG=\"first\nsecond\"\n", 1, "unterminated \" quote"},
    {"TextAfterClosingDoubleQuote", "A=\"quoted\" trailing\n", 1, "unexpected text after the closing quote: 'trailing'"},
    {"TextAfterClosingSingleQuote", "A='it'\\''s'\n", 1, "unexpected text after the closing quote: '\\''s''"},
    {"FirstBadLineIsReported", "A=1\nB=2\nbad one\n1X=2\n", 3, "expected KEY=VALUE, got 'bad one'"},
    {"LineNumberCountsCrlfLines", "A=1\r\n\r\nnope\r\n", 3, "expected KEY=VALUE, got 'nope'"},
};
INSTANTIATE_TEST_SUITE_P(EnvFileErrors, MalformedLine, ::testing::ValuesIn(kMalformedLines), case_name<ErrorCase>);

TEST(EnvFileErrors, MessageNamesTheGivenPath) {
  try {
    parse_env_file("X\n", "/etc/chat/.env");
    FAIL() << "no EnvFileError";
  } catch (const EnvFileError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("/etc/chat/.env:1: ", 0), 0U) << e.what();
  }
}

TEST(EnvFileErrors, ErrorIsARuntimeError) { EXPECT_THROW(parse_env_file("X\n", kPath), std::runtime_error); }

// ---------------------------------------------------------------------------
// load_env_file

class EnvFileLoad : public ::testing::Test {
 protected:
  test::TempDir dir_;
};

TEST_F(EnvFileLoad, ReadsValuesAndRecordsThePath) {
  const auto path = dir_.write(".env", "GRPC_HOST=localhost\nGRPC_PORT=\"50051\"\n");
  const EnvFile file = load_env_file(path);
  EXPECT_EQ(file.path, path.string());
  EXPECT_EQ(entries(file), (Entries{{"GRPC_HOST", {"localhost", 1}}, {"GRPC_PORT", {"50051", 2}}}));
}

TEST_F(EnvFileLoad, EmptyFileYieldsNoValues) {
  const auto path = dir_.write(".env", "");
  EXPECT_TRUE(load_env_file(path).values.empty());
}

TEST_F(EnvFileLoad, ParseErrorNamesTheFilePath) {
  const auto path = dir_.write("bad.env", "A=1\noops\n");
  try {
    load_env_file(path);
    FAIL() << "no EnvFileError";
  } catch (const EnvFileError& e) {
    EXPECT_EQ(std::string(e.what()), path.string() + ":2: expected KEY=VALUE, got 'oops'");
  }
}

TEST_F(EnvFileLoad, MissingFileThrowsWithPathAndReason) {
  const auto path = dir_ / "does-not-exist.env";
  try {
    load_env_file(path);
    FAIL() << "no EnvFileError";
  } catch (const EnvFileError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read env file " + path.string() + ": No such file or directory");
  }
}

TEST_F(EnvFileLoad, DirectoryThrowsInsteadOfReadingNothing) {
  try {
    load_env_file(dir_.path());
    FAIL() << "no EnvFileError";
  } catch (const EnvFileError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read env file " + dir_.path().string() + ": Is a directory");
  }
}

}  // namespace
}  // namespace chathost
