// Prints the plain closing line "N passed, N failed, N skipped" from vitest's JSON report, and fails when
// the run executed no test at all (an empty run must never look green).
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
if (passed + failed === 0) {
  process.stderr.write('no test ran\n');
  process.exitCode = 1;
}
if (failed > 0 || skipped > 0) process.exitCode = 1;
