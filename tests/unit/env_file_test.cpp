// Unit tests of the `.env` parser: what each kind of line yields, and the
// "PATH:LINE: why" message of each kind of malformed line.
#include "env_file.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace chathost {
namespace {

constexpr const char* kPath = "test.env";

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

// ---------------------------------------------------------------------------
// Plain lines

TEST(EnvFileParse, EmptyTextYieldsNoValuesAndKeepsThePath) {
  const EnvFile file = parse_env_file("", "dir/app.env");
  EXPECT_EQ(file.path, "dir/app.env");
  EXPECT_TRUE(file.values.empty());
}

TEST(EnvFileParse, SimpleKeyValueRecordsValueAndLine) {
  const EnvFile file = parse_env_file("GRPC_PORT=50051\n", kPath);
  ASSERT_EQ(file.values.size(), 1U);
  EXPECT_EQ(file.values.at("GRPC_PORT").value, "50051");
  EXPECT_EQ(file.values.at("GRPC_PORT").line, 1);
}

TEST(EnvFileParse, LastLineWithoutNewlineIsRead) {
  const EnvFile file = parse_env_file("A=1\nB=2", kPath);
  ASSERT_EQ(file.values.size(), 2U);
  EXPECT_EQ(file.values.at("B").value, "2");
  EXPECT_EQ(file.values.at("B").line, 2);
}

TEST(EnvFileParse, ValueMayContainEqualsSigns) {
  EXPECT_EQ(value_of("DSN=user=me;password=x=y\n", "DSN"), "user=me;password=x=y");
}

TEST(EnvFileParse, KeyMayContainDigitsUnderscoresDotsAndDashes) {
  const EnvFile file = parse_env_file("_a.B-c_9=x\n", kPath);
  ASSERT_EQ(file.values.count("_a.B-c_9"), 1U);
  EXPECT_EQ(file.values.at("_a.B-c_9").value, "x");
}

TEST(EnvFileParse, KeysAreCaseSensitive) {
  const EnvFile file = parse_env_file("key=lower\nKEY=upper\n", kPath);
  ASSERT_EQ(file.values.size(), 2U);
  EXPECT_EQ(file.values.at("key").value, "lower");
  EXPECT_EQ(file.values.at("KEY").value, "upper");
}

TEST(EnvFileParse, LineNumbersCountCommentsAndBlankLines) {
  const EnvFile file = parse_env_file(
      "# header\n"
      "\n"
      "A=1\n"
      "   \n"
      "# another\n"
      "B=2\n"
      "\n"
      "C=3\n",
      kPath);
  ASSERT_EQ(file.values.size(), 3U);
  EXPECT_EQ(file.values.at("A").line, 3);
  EXPECT_EQ(file.values.at("B").line, 6);
  EXPECT_EQ(file.values.at("C").line, 8);
}

TEST(EnvFileParse, LastDuplicateWinsWithItsLine) {
  const EnvFile file = parse_env_file("PORT=1\nOTHER=x\nPORT=2\nPORT=3\n", kPath);
  ASSERT_EQ(file.values.size(), 2U);
  EXPECT_EQ(file.values.at("PORT").value, "3");
  EXPECT_EQ(file.values.at("PORT").line, 4);
}

TEST(EnvFileParse, LaterEmptyDuplicateOverridesEarlierValue) {
  const EnvFile file = parse_env_file("PORT=1\nPORT=\n", kPath);
  EXPECT_EQ(file.values.at("PORT").value, "");
  EXPECT_EQ(file.values.at("PORT").line, 2);
}

// ---------------------------------------------------------------------------
// Comments

TEST(EnvFileComments, FullLineCommentsAreSkipped) {
  const EnvFile file = parse_env_file("# A=1\n   # B=2\n\t# C=3\nD=4\n", kPath);
  ASSERT_EQ(file.values.size(), 1U);
  EXPECT_EQ(file.values.at("D").value, "4");
}

TEST(EnvFileComments, CommentOnlyFileYieldsNothing) {
  EXPECT_TRUE(parse_env_file("# just a comment\n#\n", kPath).values.empty());
}

TEST(EnvFileComments, InlineCommentAfterBlankEndsBareValue) {
  EXPECT_EQ(value_of("HOST=localhost # the gRPC host\n", "HOST"), "localhost");
}

TEST(EnvFileComments, InlineCommentAfterTabEndsBareValue) {
  EXPECT_EQ(value_of("HOST=localhost\t# the gRPC host\n", "HOST"), "localhost");
}

TEST(EnvFileComments, InlineCommentKeepsBlanksInsideTheValue) {
  EXPECT_EQ(value_of("NAME=Ada  Lovelace   # admin name\n", "NAME"), "Ada  Lovelace");
}

TEST(EnvFileComments, InlineCommentOnlyStartsAtFirstBlankHash) {
  EXPECT_EQ(value_of("V=a#b # c # d\n", "V"), "a#b");
}

TEST(EnvFileComments, HashWithoutBlankBeforeIsKeptInBareValue) {
  EXPECT_EQ(value_of("COLOR=#ff0000\n", "COLOR"), "#ff0000");
  EXPECT_EQ(value_of("URL=http://host/page#anchor\n", "URL"), "http://host/page#anchor");
  EXPECT_EQ(value_of("PASS=abc#def\n", "PASS"), "abc#def");
}

TEST(EnvFileComments, CommentAfterEqualsAndBlankLeavesValueEmpty) {
  EXPECT_EQ(value_of("ADMIN_EMAIL= # set me\n", "ADMIN_EMAIL"), "");
  EXPECT_EQ(value_of("ADMIN_EMAIL=\t# set me\n", "ADMIN_EMAIL"), "");
}

TEST(EnvFileComments, HashInsideDoubleQuotesIsKept) {
  EXPECT_EQ(value_of("GREETING=\"hello # world\"\n", "GREETING"), "hello # world");
}

TEST(EnvFileComments, HashInsideSingleQuotesIsKept) {
  EXPECT_EQ(value_of("GREETING='hello # world'\n", "GREETING"), "hello # world");
}

TEST(EnvFileComments, CommentAfterClosingQuoteIsIgnored) {
  EXPECT_EQ(value_of("A=\"quoted\" # comment\n", "A"), "quoted");
  EXPECT_EQ(value_of("B='quoted'   # comment\n", "B"), "quoted");
  EXPECT_EQ(value_of("C=\"quoted\"# comment\n", "C"), "quoted");
}

// ---------------------------------------------------------------------------
// Quotes

TEST(EnvFileQuotes, SingleQuotesAreLiteral) {
  EXPECT_EQ(value_of(R"(RAW='a\nb\t"c"\\d')"
                     "\n",
                     "RAW"),
            R"(a\nb\t"c"\\d)");
}

TEST(EnvFileQuotes, SingleQuotesKeepLeadingAndTrailingBlanks) {
  EXPECT_EQ(value_of("PAD='  padded  '\n", "PAD"), "  padded  ");
}

TEST(EnvFileQuotes, DoubleQuotesKeepLeadingAndTrailingBlanks) {
  EXPECT_EQ(value_of("PAD=\"  padded  \"\n", "PAD"), "  padded  ");
}

TEST(EnvFileQuotes, DoubleQuotesExpandNewlineAndTab) {
  EXPECT_EQ(value_of(R"(MSG="line1\nline2\tend")"
                     "\n",
                     "MSG"),
            "line1\nline2\tend");
}

TEST(EnvFileQuotes, DoubleQuotesExpandEscapedQuoteAndBackslash) {
  EXPECT_EQ(value_of(R"(MSG="say \"hi\" C:\\dir")"
                     "\n",
                     "MSG"),
            R"(say "hi" C:\dir)");
}

TEST(EnvFileQuotes, DoubleQuotesExpandCarriageReturn) {
  EXPECT_EQ(value_of(R"(MSG="a\rb")"
                     "\n",
                     "MSG"),
            "a\rb");
}

TEST(EnvFileQuotes, EscapedBackslashJustBeforeClosingQuote) {
  EXPECT_EQ(value_of(R"(DIR="C:\\")"
                     "\n",
                     "DIR"),
            "C:\\");
}

TEST(EnvFileQuotes, DoubleQuoteInsideSingleQuotesAndViceVersa) {
  EXPECT_EQ(value_of("A='say \"hi\"'\n", "A"), "say \"hi\"");
  EXPECT_EQ(value_of("B=\"it's\"\n", "B"), "it's");
}

TEST(EnvFileQuotes, QuotesInsideBareValueAreKept) {
  EXPECT_EQ(value_of("A=it's \"fine\"\n", "A"), "it's \"fine\"");
}

// ---------------------------------------------------------------------------
// export, empty values, whitespace, line endings

TEST(EnvFileExport, ExportPrefixIsStripped) {
  const EnvFile file = parse_env_file("export GRPC_HOST=localhost\n", kPath);
  ASSERT_EQ(file.values.size(), 1U);
  EXPECT_EQ(file.values.at("GRPC_HOST").value, "localhost");
  EXPECT_EQ(file.values.at("GRPC_HOST").line, 1);
}

TEST(EnvFileExport, ExportWithSeveralBlanksOrTabIsStripped) {
  EXPECT_EQ(value_of("export    A=1\n", "A"), "1");
  EXPECT_EQ(value_of("export\tB=2\n", "B"), "2");
  EXPECT_EQ(value_of("  export C = 3\n", "C"), "3");
}

TEST(EnvFileExport, ExportWithQuotedValue) { EXPECT_EQ(value_of("export A=\"x y\"\n", "A"), "x y"); }

TEST(EnvFileExport, KeyStartingWithExportIsNotAPrefix) {
  const EnvFile file = parse_env_file("exporter=otlp\nexport=yes\n", kPath);
  ASSERT_EQ(file.values.size(), 2U);
  EXPECT_EQ(file.values.at("exporter").value, "otlp");
  EXPECT_EQ(file.values.at("export").value, "yes");
}

TEST(EnvFileEmpty, BareEmptyValue) {
  const EnvFile file = parse_env_file("EMPTY=\n", kPath);
  ASSERT_EQ(file.values.count("EMPTY"), 1U);
  EXPECT_EQ(file.values.at("EMPTY").value, "");
}

TEST(EnvFileEmpty, EmptyDoubleQuotes) { EXPECT_EQ(value_of("EMPTY=\"\"\n", "EMPTY"), ""); }

TEST(EnvFileEmpty, EmptySingleQuotes) { EXPECT_EQ(value_of("EMPTY=''\n", "EMPTY"), ""); }

TEST(EnvFileEmpty, BlanksOnlyValueIsEmpty) { EXPECT_EQ(value_of("EMPTY=   \t \n", "EMPTY"), ""); }

TEST(EnvFileWhitespace, BlanksAroundKeyAndValueAreTrimmed) {
  const EnvFile file = parse_env_file("  \tGRPC_PORT \t =  50051 \t\n", kPath);
  ASSERT_EQ(file.values.count("GRPC_PORT"), 1U);
  EXPECT_EQ(file.values.at("GRPC_PORT").value, "50051");
}

TEST(EnvFileWhitespace, BlanksBeforeOpeningQuoteAreIgnored) {
  EXPECT_EQ(value_of("A =   \"x\"  \n", "A"), "x");
}

TEST(EnvFileLineEndings, CrlfLinesParseLikeLf) {
  const EnvFile file = parse_env_file(
      "# comment\r\n"
      "A=bare\r\n"
      "B=\"double\"\r\n"
      "C='single'\r\n"
      "D=\r\n"
      "E=value # comment\r\n",
      kPath);
  ASSERT_EQ(file.values.size(), 5U);
  EXPECT_EQ(file.values.at("A").value, "bare");
  EXPECT_EQ(file.values.at("B").value, "double");
  EXPECT_EQ(file.values.at("C").value, "single");
  EXPECT_EQ(file.values.at("D").value, "");
  EXPECT_EQ(file.values.at("E").value, "value");
  EXPECT_EQ(file.values.at("A").line, 2);
  EXPECT_EQ(file.values.at("E").line, 6);
}

TEST(EnvFileLineEndings, CrlfBlankLinesAreSkipped) {
  const EnvFile file = parse_env_file("\r\n\r\nA=1\r\n", kPath);
  ASSERT_EQ(file.values.size(), 1U);
  EXPECT_EQ(file.values.at("A").line, 3);
}

// ---------------------------------------------------------------------------
// Malformed lines: each throws "PATH:LINE: why"

TEST(EnvFileErrors, LineWithoutEqualsSign) {
  EXPECT_EQ(error_of("A=1\nJUST_A_WORD\n"), "test.env:2: expected KEY=VALUE, got 'JUST_A_WORD'");
}

TEST(EnvFileErrors, ExportWithoutAssignment) {
  EXPECT_EQ(error_of("export GRPC_PORT\n"), "test.env:1: expected KEY=VALUE, got 'GRPC_PORT'");
}

TEST(EnvFileErrors, KeyStartingWithDigit) {
  EXPECT_EQ(error_of("1ABC=x\n"), "test.env:1: invalid variable name '1ABC'");
}

TEST(EnvFileErrors, KeyWithInnerBlank) {
  EXPECT_EQ(error_of("\n\nA B=x\n"), "test.env:3: invalid variable name 'A B'");
}

TEST(EnvFileErrors, KeyWithInvalidCharacter) {
  EXPECT_EQ(error_of("A$B=x\n"), "test.env:1: invalid variable name 'A$B'");
}

TEST(EnvFileErrors, EmptyKey) { EXPECT_EQ(error_of("=value\n"), "test.env:1: invalid variable name ''"); }

TEST(EnvFileErrors, UnterminatedDoubleQuote) {
  EXPECT_EQ(error_of("OK=1\nMSG=\"never closed\n"), "test.env:2: unterminated \" quote");
}

TEST(EnvFileErrors, UnterminatedSingleQuote) {
  EXPECT_EQ(error_of("MSG='never closed\n"), "test.env:1: unterminated ' quote");
}

TEST(EnvFileErrors, EscapedClosingQuoteLeavesQuoteUnterminated) {
  EXPECT_EQ(error_of(R"(MSG="abc\")"
                     "\n"),
            "test.env:1: unterminated \" quote");
}

TEST(EnvFileErrors, QuoteDoesNotSpanLines) {
  // Multi-line values are not supported: the line ends the quote.
  EXPECT_EQ(error_of("MSG=\"first\nsecond\"\n"), "test.env:1: unterminated \" quote");
}

TEST(EnvFileErrors, TextAfterClosingDoubleQuote) {
  EXPECT_EQ(error_of("A=\"quoted\" trailing\n"),
            "test.env:1: unexpected text after the closing quote: 'trailing'");
}

TEST(EnvFileErrors, TextAfterClosingSingleQuote) {
  EXPECT_EQ(error_of("A='it'\\''s'\n"), "test.env:1: unexpected text after the closing quote: '\\''s''");
}

TEST(EnvFileErrors, FirstBadLineIsReported) {
  EXPECT_EQ(error_of("A=1\nB=2\nbad one\n1X=2\n"), "test.env:3: expected KEY=VALUE, got 'bad one'");
}

TEST(EnvFileErrors, LineNumberCountsCrlfLines) {
  EXPECT_EQ(error_of("A=1\r\n\r\nnope\r\n"), "test.env:3: expected KEY=VALUE, got 'nope'");
}

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
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("env_file_test-" + std::to_string(::getpid()) + "-" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::filesystem::path write(const std::string& name, const std::string& text) const {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(EnvFileLoad, ReadsValuesAndRecordsThePath) {
  const auto path = write(".env", "GRPC_HOST=localhost\nGRPC_PORT=\"50051\"\n");
  const EnvFile file = load_env_file(path);
  EXPECT_EQ(file.path, path.string());
  ASSERT_EQ(file.values.size(), 2U);
  EXPECT_EQ(file.values.at("GRPC_HOST").value, "localhost");
  EXPECT_EQ(file.values.at("GRPC_PORT").value, "50051");
  EXPECT_EQ(file.values.at("GRPC_PORT").line, 2);
}

TEST_F(EnvFileLoad, EmptyFileYieldsNoValues) {
  const auto path = write(".env", "");
  EXPECT_TRUE(load_env_file(path).values.empty());
}

TEST_F(EnvFileLoad, ParseErrorNamesTheFilePath) {
  const auto path = write("bad.env", "A=1\noops\n");
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
    load_env_file(dir_);
    FAIL() << "no EnvFileError";
  } catch (const EnvFileError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read env file " + dir_.string() + ": Is a directory");
  }
}

}  // namespace
}  // namespace chathost
