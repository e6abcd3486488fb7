// A jest reporter that ends the run with one plain line CI can read: `tests: N passed, N failed, N skipped`.
// Jest prints its own summary after every reporter's onRunComplete, so the line is written at exit.
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `\ntests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`;
    process.once('exit', () => process.stderr.write(line));
  }
}
