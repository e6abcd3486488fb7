// One incident: its facts, the timeline of its transitions and the decision trail of its attempts.
import type { ReactNode } from 'react';
import { api } from '../api';
import { useLoad, useStreamEvents } from '../context';
import { formatPercent, formatTime } from '../format';
import { href } from '../route';
import type { Decision, IncidentReply } from '../types';
import { Badge } from './Badge';

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

function Candidates({ decision }: { decision: Decision }) {
  if (decision.candidates.length === 0) return null;
  return (
    <ul className="candidates">
      {decision.candidates.map((candidate) => (
        <li key={candidate.playbook} className={candidate.playbook === decision.playbook ? 'chosen' : undefined}>
          <span className="mono">{candidate.playbook}</span>
          {candidate.score !== undefined && <span className="muted"> draw {candidate.score.toFixed(3)}</span>}
          {candidate.excluded && <span className="muted"> excluded: {candidate.excluded}</span>}
          {candidate.playbook === decision.playbook && <span className="muted"> (chosen)</span>}
        </li>
      ))}
    </ul>
  );
}

export function IncidentDetail({ id }: { id: string }) {
  const { data, error, loading, reload } = useLoad(id, (signal) =>
    api<IncidentReply>(`/incidents/${encodeURIComponent(id)}`, { signal, action: 'view incidents' }),
  );

  useStreamEvents(['incident.'], (_subject, event) => {
    if (event.incident_id === id) reload();
  });

  return (
    <section className="panel" data-testid="incident-detail" data-incident-id={id}>
      <div className="panel-head">
        <h2>Incident</h2>
        <a href={href('incidents')} className="link" data-testid="incident-close">
          Close
        </a>
      </div>
      {!data && loading && <p className="muted">Loading…</p>}
      {!data && error && <p className="error-text">{error}</p>}
      {data && (
        <>
          <h3 className="wrap">
            {data.incident.kind} <span className="muted">on</span> {data.incident.service}
            <span className="muted"> / {data.incident.environment}</span>
          </h3>
          <dl className="facts">
            <Field label="Status">
              <Badge value={data.incident.status} testId="incident-status" />
            </Field>
            <Field label="Severity">
              <Badge value={data.incident.severity} />
            </Field>
            {data.incident.blast_radius && <Field label="Blast radius">{data.incident.blast_radius}</Field>}
            <Field label="Reason">{data.incident.reason}</Field>
            <Field label="Attempts">{data.incident.attempts}</Field>
            <Field label="Occurrences">{data.incident.occurrences}</Field>
            {data.incident.category && <Field label="Category">{data.incident.category}</Field>}
            <Field label="Fingerprint">
              <span className="mono">{data.incident.fingerprint}</span>
            </Field>
            <Field label="Signature">
              <span className="mono wrap">{data.incident.signature}</span>
            </Field>
            {data.incident.playbook && <Field label="Playbook">{data.incident.playbook}</Field>}
            {data.incident.action_id && (
              <Field label="Action">
                <a href={href('contracts', data.incident.action_id)} className="mono">
                  {data.incident.action_id}
                </a>
              </Field>
            )}
            {data.incident.muted_until && <Field label="Muted until">{formatTime(data.incident.muted_until)}</Field>}
            <Field label="Opened">{formatTime(data.incident.opened_at)}</Field>
            {data.incident.triaged_at && <Field label="Triaged">{formatTime(data.incident.triaged_at)}</Field>}
            <Field label="Changed">{formatTime(data.incident.changed_at)}</Field>
          </dl>

          <h3>Timeline</h3>
          {data.timeline.length === 0 ? (
            <p className="muted">No transitions recorded.</p>
          ) : (
            <ol className="timeline" data-testid="incident-timeline">
              {data.timeline.map((step, index) => (
                <li key={`${step.at}-${index}`} data-testid="timeline-entry">
                  <span className="muted">{formatTime(step.at)}</span>{' '}
                  {step.previous_status && (
                    <>
                      <Badge value={step.previous_status} /> →{' '}
                    </>
                  )}
                  <Badge value={step.status} />
                  <div className="wrap">{step.reason}</div>
                </li>
              ))}
            </ol>
          )}

          <h3>Decision trail</h3>
          {data.trail.length === 0 ? (
            <p className="muted">No remediation attempts yet.</p>
          ) : (
            <ol className="trail" data-testid="incident-trail">
              {data.trail.map((decision) => (
                <li key={`${decision.attempt}-${decision.action_id}`} data-testid="trail-entry">
                  <div>
                    <strong>Attempt {decision.attempt}</strong>: <span className="mono">{decision.playbook}</span>{' '}
                    <Badge value={decision.outcome} />
                    {decision.confidence !== undefined && (
                      <span className="muted"> confidence {formatPercent(decision.confidence)}</span>
                    )}
                  </div>
                  <div className="muted">
                    {formatTime(decision.decided_at)} · action{' '}
                    <a href={href('contracts', decision.action_id)} className="mono">
                      {decision.action_id}
                    </a>
                  </div>
                  <div className="wrap">Why: {decision.reason}</div>
                  {decision.outcome_reason && <div className="wrap">Outcome: {decision.outcome_reason}</div>}
                  <Candidates decision={decision} />
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </section>
  );
}
