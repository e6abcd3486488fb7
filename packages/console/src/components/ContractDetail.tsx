// One action contract (by contract id or action id): status, checks with their results, snapshot, audit entries.
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../api';
import { useLoad, useStreamEvents } from '../context';
import { formatDuration, formatJson, formatPercent, formatTime } from '../format';
import { navigate } from '../route';
import type { ContractVerification, ContractView } from '../types';
import { Badge } from './Badge';

type CheckResult = ContractVerification['checks'][number];

interface CheckLine {
  name: string;
  kind: string;
  planned: boolean;
  result?: CheckResult;
}

function checkLines(view: ContractView): CheckLine[] {
  const results = new Map((view.verification?.checks ?? []).map((result) => [result.name, result]));
  const lines: CheckLine[] = view.contract.contract.checks.map((check) => ({
    name: check.name,
    kind: check.kind,
    planned: true,
    result: results.get(check.name),
  }));
  for (const result of results.values()) {
    if (!lines.some((line) => line.name === result.name)) {
      lines.push({ name: result.name, kind: result.kind, planned: false, result });
    }
  }
  return lines;
}

function Lookup({ id }: { id: string | undefined }) {
  const [value, setValue] = useState(id ?? '');
  useEffect(() => setValue(id ?? ''), [id]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (value.trim()) navigate('contracts', value.trim());
  };
  return (
    <form className="filters" onSubmit={submit}>
      <input
        type="search"
        placeholder="contract id or action id"
        value={value}
        onChange={(event) => setValue(event.target.value)}
        aria-label="Contract id or action id"
        data-testid="contract-id-input"
      />
      <button type="submit" className="secondary" data-testid="contract-lookup-button" disabled={!value.trim()}>
        Show
      </button>
    </form>
  );
}

export function ContractDetail({ id }: { id: string | undefined }) {
  const { data, error, loading, reload } = useLoad(id ?? null, (signal) =>
    api<ContractView>(`/contracts/${encodeURIComponent(id ?? '')}`, { signal, action: 'view contracts' }),
  );

  useStreamEvents(['contract.', 'action.', 'approval.'], (_subject, event) => {
    const contract = data?.contract.contract;
    const ids = [id, contract?.contract_id, contract?.action_id, contract?.approval_id];
    if (
      [event.contract_id, event.action_id, event.approval_id].some((value) => value && ids.includes(value as string))
    ) {
      reload();
    }
  });

  const contract = data?.contract.contract;
  const verification = data?.verification;
  return (
    <section className="panel" data-testid="contract-view">
      <div className="panel-head">
        <h2>Contract</h2>
        <Lookup id={id} />
      </div>
      {!id && <p className="muted">Enter a contract id or an action id, or follow a link from an incident.</p>}
      {id && !data && loading && <p className="muted">Loading…</p>}
      {id && !data && error && <p className="error-text">{error}</p>}
      {data && contract && (
        <div data-testid="contract-detail" data-contract-id={contract.contract_id}>
          <h3>
            <span className="mono">{contract.playbook}</span> <span className="muted">·</span> {contract.adapter}/
            {contract.action} <span className="muted">on</span> {contract.target.service}
            <span className="muted"> / {contract.target.environment}</span>
          </h3>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <Badge value={contract.status} testId="contract-status" />
              {contract.dry_run && <Badge value="dry_run" />}
            </dd>
            <dt>Contract</dt>
            <dd className="mono">{contract.contract_id}</dd>
            <dt>Action</dt>
            <dd className="mono">{contract.action_id}</dd>
            <dt>Tier</dt>
            <dd>{contract.tier}</dd>
            <dt>Attempt</dt>
            <dd>{contract.attempt}</dd>
            <dt>Requested by</dt>
            <dd>
              {contract.requested_by.kind} {contract.requested_by.id}
            </dd>
            {contract.result && (
              <>
                <dt>Execution</dt>
                <dd>
                  <Badge value={contract.result} />
                </dd>
              </>
            )}
            {(verification?.verdict ?? contract.verdict) && (
              <>
                <dt>Verdict</dt>
                <dd>
                  <Badge value={verification?.verdict ?? contract.verdict} testId="contract-verdict" />{' '}
                  {formatPercent(verification?.confidence ?? contract.confidence)} confidence
                </dd>
              </>
            )}
            {verification && (
              <>
                <dt>Why</dt>
                <dd className="wrap">{verification.reason}</dd>
                <dt>Verified</dt>
                <dd>
                  {formatTime(verification.verified_at)} ({formatDuration(verification.time_to_verify_ms)} after
                  execution)
                </dd>
              </>
            )}
            {contract.error && (
              <>
                <dt>Error</dt>
                <dd className="error-text wrap">{contract.error}</dd>
              </>
            )}
            <dt>Created</dt>
            <dd>{formatTime(contract.created_at)}</dd>
            <dt>Updated</dt>
            <dd>{formatTime(contract.updated_at)}</dd>
          </dl>

          <h3>Checks</h3>
          {checkLines(data).length === 0 ? (
            <p className="muted">No checks.</p>
          ) : (
            <table className="table" data-testid="contract-checks">
              <thead>
                <tr>
                  <th>Check</th>
                  <th>Kind</th>
                  <th>Status</th>
                  <th>Reason</th>
                  <th className="num">Took</th>
                </tr>
              </thead>
              <tbody>
                {checkLines(data).map((line) => (
                  <tr key={line.name} data-testid="contract-check-row" data-check-status={line.result?.status ?? ''}>
                    <td className="mono">{line.name}</td>
                    <td>{line.kind}</td>
                    <td>
                      {line.result ? <Badge value={line.result.status} /> : <span className="muted">not run</span>}
                    </td>
                    <td className="wrap">{line.result?.reason ?? ''}</td>
                    <td className="num">{line.result ? formatDuration(line.result.duration_ms) : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {verification?.drift && (verification.drift.fields.length > 0 || verification.drift.baselines.length > 0) && (
            <>
              <h3>Drift</h3>
              <pre className="json">{formatJson(verification.drift)}</pre>
            </>
          )}

          <h3>Expected effect</h3>
          <pre className="json">{formatJson(contract.expected_effect)}</pre>
          {contract.actual_state && (
            <>
              <h3>Actual state</h3>
              <pre className="json">{formatJson(contract.actual_state)}</pre>
            </>
          )}

          <h3>Snapshot</h3>
          {data.contract.snapshot ? (
            <div data-testid="contract-snapshot">
              <p className="muted">
                Taken {formatTime(data.contract.snapshot.taken_at)}
                {data.contract.snapshot.restored_at
                  ? ` · restored ${formatTime(data.contract.snapshot.restored_at)}`
                  : ' · not restored'}
              </p>
              <pre className="json">{formatJson(data.contract.snapshot.state)}</pre>
            </div>
          ) : (
            <p className="muted">No snapshot (tier 1 actions take none).</p>
          )}

          {data.contract.approval && (
            <>
              <h3>Approval</h3>
              <p>
                <Badge value={data.contract.approval.status} /> {data.contract.approval.votes.length} vote(s), quorum{' '}
                {data.contract.approval.quorum.required} {data.contract.approval.quorum.role}
              </p>
            </>
          )}

          <h3>Audit</h3>
          {data.contract.audit.length === 0 ? (
            <p className="muted">No audit entries.</p>
          ) : (
            <table className="table" data-testid="contract-audit">
              <thead>
                <tr>
                  <th className="num">#</th>
                  <th>At</th>
                  <th>Step</th>
                  <th>Actor</th>
                  <th>Detail</th>
                </tr>
              </thead>
              <tbody>
                {data.contract.audit.map((entry) => (
                  <tr key={entry.seq} data-testid="audit-row">
                    <td className="num">{entry.seq}</td>
                    <td>{formatTime(entry.at)}</td>
                    <td className="mono">{entry.step}</td>
                    <td>{entry.actor}</td>
                    <td>
                      <details>
                        <summary className="mono">{entry.hash.slice(0, 12)}…</summary>
                        <pre className="json">{formatJson(entry.detail)}</pre>
                      </details>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </section>
  );
}
