//===- PassProgress.cpp - "[3/7] pass-name" while a pipeline runs ---------===//

#include "gaon/Tools/PassProgress.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "llvm/Support/raw_ostream.h"

#include <atomic>
#include <cctype>

using namespace mlir;

namespace gaon::tools {

namespace {

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
         c == '.';
}

// Skips a balanced "{...}" option block starting at `i` (quoted strings may
// hold braces); returns the index after it.
size_t skipOptions(const std::string &text, size_t i) {
  int depth = 0;
  char quote = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (quote) {
      if (c == quote)
        quote = 0;
      continue;
    }
    if (c == '"' || c == '\'')
      quote = c;
    else if (c == '{')
      ++depth;
    else if (c == '}' && --depth == 0)
      return i + 1;
  }
  return i;
}

class PassProgressInstrumentation : public PassInstrumentation {
public:
  PassProgressInstrumentation(ProgressLine &line, unsigned done, unsigned total)
      : line(line), done(done), total(total) {}

  void runBeforePass(Pass *pass, Operation *) override {
    // The adaptors that run nested pipelines have no argument: only the
    // passes themselves are shown and counted.
    StringRef name = pass->getArgument();
    if (name.empty())
      return;
    unsigned index = ++done;
    // A nested pass runs once per function: the count saturates.
    if (index > total)
      index = total;
    line.set("[" + std::to_string(index) + "/" + std::to_string(total) + "] " +
             name.str());
  }

private:
  ProgressLine &line;
  std::atomic<unsigned> done;
  unsigned total;
};

} // namespace

ClearProgressOnDiagnostic::ClearProgressOnDiagnostic(MLIRContext &context,
                                                     ProgressLine &line)
    : context(context) {
  id = context.getDiagEngine().registerHandler([&line](Diagnostic &) {
    line.clear();
    return failure(); // not handled: the tool's handler prints it
  });
}

ClearProgressOnDiagnostic::~ClearProgressOnDiagnostic() {
  context.getDiagEngine().eraseHandler(id);
}

unsigned countPasses(OpPassManager &pm) {
  std::string text;
  llvm::raw_string_ostream os(text);
  pm.printAsTextualPipeline(os);
  os.flush();
  unsigned count = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!isNameChar(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && isNameChar(text[end]))
      ++end;
    while (end < text.size() &&
           std::isspace(static_cast<unsigned char>(text[end])))
      ++end;
    // "name(" anchors a nested pipeline; anything else is a pass, maybe
    // with "{options}".
    if (end < text.size() && text[end] == '(') {
      i = end + 1;
      continue;
    }
    ++count;
    i = end < text.size() && text[end] == '{' ? skipOptions(text, end) : end;
  }
  return count;
}

void addPassProgress(PassManager &pm, ProgressLine &line, unsigned done,
                     unsigned total) {
  if (!line.enabled())
    return;
  if (total == 0)
    total = done + countPasses(pm);
  pm.addInstrumentation(
      std::make_unique<PassProgressInstrumentation>(line, done, total));
}

} // namespace gaon::tools
