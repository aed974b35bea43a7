// A build's test report: how many tests passed and failed, each failing case with its reason, the
// passing ones folded away. Shown by the build panel and by each version of the app panel.

import type { TestReport } from '../api/types';
import { formatDuration } from './duration';

export function testSummary(report: TestReport): string {
  return `${report.passed} passed, ${report.failed} failed`;
}

export function TestReportView({ report, label }: { report: TestReport; label: string }) {
  const failing = report.cases.filter((c) => !c.passed);
  const passing = report.cases.filter((c) => c.passed);
  return (
    <div className="test-report">
      <p>
        <span className={report.failed ? 'tests-failed' : 'tests-passed'}>{testSummary(report)}</span>
        {report.cases.length === 0 && ' (no test cases ran)'}
      </p>
      {failing.length > 0 && (
        <ul className="failing-cases" aria-label={`Failing tests of ${label}`}>
          {failing.map((c) => (
            <li key={c.name}>
              <strong>{c.name}</strong>: {c.failure || 'failed without a reason'}
            </li>
          ))}
        </ul>
      )}
      {passing.length > 0 && (
        <details>
          <summary>
            Passing tests of {label} ({passing.length})
          </summary>
          <ul>
            {passing.map((c) => (
              <li key={c.name}>
                {c.name}
                {c.duration_ms != null && <span className="hint"> ({formatDuration(c.duration_ms)})</span>}
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
