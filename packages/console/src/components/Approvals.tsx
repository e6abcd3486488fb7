// Approvals: the pending approvals with their plan, quorum, votes and expiry; approvers vote from here.
import { useEffect, useRef, useState } from 'react';
import { api } from '../api';
import { hasRole, useLoad, useNow, useSession, useStreamEvents } from '../context';
import { formatRelative, formatTime } from '../format';
import { href } from '../route';
import type { Approval, ApprovalsReply, VoteAccepted, VoteRequest } from '../types';
import { Badge } from './Badge';

type Decision = VoteRequest['decision'];

function ApprovalRow({ approval, canVote, now }: { approval: Approval; canVote: boolean; now: number }) {
  const { me, report } = useSession();
  const [comment, setComment] = useState('');
  const [sending, setSending] = useState<Decision | null>(null);
  const [sent, setSent] = useState<Decision | null>(null);
  const { plan, quorum } = approval;
  const counted = approval.votes.filter((vote) => vote.counted && vote.decision === 'approve').length;
  const mine = approval.votes.find((vote) => vote.voter_id === me.id);
  const expired = Date.parse(approval.expires_at) <= now;

  const vote = async (decision: Decision) => {
    setSending(decision);
    try {
      const body: VoteRequest = comment.trim() ? { decision, comment: comment.trim() } : { decision };
      await api<VoteAccepted>(`/approvals/${encodeURIComponent(approval.approval_id)}/votes`, {
        method: 'POST',
        body,
        action: 'vote on approvals',
      });
      setSent(decision);
      setComment('');
    } catch (error) {
      report(error);
    } finally {
      setSending(null);
    }
  };

  const target = [plan.target.namespace, plan.target.deployment].filter(Boolean).join('/');
  return (
    <li className="card" data-testid="approval-row" data-approval-id={approval.approval_id}>
      <div className="card-head">
        <strong className="mono">{plan.playbook}</strong>
        <span>
          {plan.adapter} · {plan.action} · tier {plan.tier}
        </span>
        <Badge value={approval.status} />
      </div>
      <div>
        on <strong>{plan.target.service}</strong>
        <span className="muted"> / {plan.target.environment}</span>
        {target && <span className="mono muted"> ({target})</span>}
        {plan.target.url && <span className="mono muted wrap"> {plan.target.url}</span>}
      </div>
      <div className="wrap">Why approval: {approval.reason}</div>
      <dl className="facts compact">
        <dt>Quorum</dt>
        <dd data-testid="approval-quorum">
          {counted} of {quorum.required} {quorum.role} approval{quorum.required === 1 ? '' : 's'}
        </dd>
        <dt>Requested</dt>
        <dd>
          {formatTime(approval.requested_at)} by {approval.requested_by.kind} {approval.requested_by.id}
        </dd>
        <dt>Expires</dt>
        <dd data-testid="approval-expiry" className={expired ? 'error-text' : undefined}>
          {formatTime(approval.expires_at)} ({expired ? 'expired' : formatRelative(approval.expires_at, now)})
        </dd>
        <dt>Checks</dt>
        <dd>{plan.checks.length ? plan.checks.map((check) => `${check.name} (${check.kind})`).join(', ') : 'none'}</dd>
        <dt>Contract</dt>
        <dd>
          <a href={href('contracts', approval.contract_id)} className="mono">
            {approval.contract_id}
          </a>
          {approval.incident_id && (
            <>
              {' · incident '}
              <a href={href('incidents', approval.incident_id)} className="mono">
                {approval.incident_id}
              </a>
            </>
          )}
        </dd>
      </dl>
      <div>
        <span className="muted">Votes so far: </span>
        {approval.votes.length === 0 && <span className="muted">none</span>}
        <ul className="votes" data-testid="approval-votes">
          {approval.votes.map((v) => (
            <li key={`${v.voter_id}-${v.cast_at}`}>
              <span className="mono">{v.voter_id}</span> <Badge value={v.decision} />{' '}
              <span className="muted">
                {formatTime(v.cast_at)}
                {v.counted ? '' : ` · not counted${v.not_counted_reason ? `: ${v.not_counted_reason}` : ''}`}
              </span>
            </li>
          ))}
        </ul>
      </div>
      {canVote && approval.status === 'pending' && (
        <div className="vote">
          <input
            type="text"
            placeholder="comment (optional)"
            maxLength={1024}
            value={comment}
            onChange={(event) => setComment(event.target.value)}
            aria-label="Comment for your vote"
            data-testid="vote-comment"
          />
          <button
            type="button"
            data-testid="approve-button"
            disabled={sending !== null || expired || sent !== null || mine !== undefined}
            onClick={() => void vote('approve')}
          >
            {sending === 'approve' ? 'Sending…' : 'Approve'}
          </button>
          <button
            type="button"
            className="danger"
            data-testid="reject-button"
            disabled={sending !== null || expired || sent !== null || mine !== undefined}
            onClick={() => void vote('reject')}
          >
            {sending === 'reject' ? 'Sending…' : 'Reject'}
          </button>
        </div>
      )}
      {(sent || mine) && (
        <p className="notice" data-testid="vote-status">
          {sent
            ? `Your ${sent} vote was sent; the executor counts it.`
            : `You voted ${mine?.decision}${mine?.counted ? '' : ' (not counted)'}.`}
        </p>
      )}
    </li>
  );
}

export function Approvals() {
  const { me } = useSession();
  const now = useNow();
  const canVote = hasRole(me, 'approver', 'admin');
  const { data, error, loading, reload } = useLoad('approvals', (signal) =>
    api<ApprovalsReply>('/approvals', { signal, action: 'list approvals' }),
  );

  // approval.requested / .granted / .rejected / .expired / .vote.cast: refresh, a burst at a time.
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useStreamEvents(['approval.'], () => {
    clearTimeout(timer.current);
    timer.current = setTimeout(reload, 250);
  });
  useEffect(() => () => clearTimeout(timer.current), []);

  return (
    <section className="panel" data-testid="approvals">
      <div className="panel-head">
        <h2>Pending approvals</h2>
        <button type="button" className="secondary" onClick={reload} disabled={loading}>
          Refresh
        </button>
      </div>
      {!canVote && <p className="muted">Your role can see approvals; voting needs the approver or admin role.</p>}
      {!data && loading && <p className="muted">Loading…</p>}
      {!data && error && <p className="error-text">{error}</p>}
      {data && data.items.length === 0 && (
        <p className="muted" data-testid="approvals-empty">
          Nothing waits for approval.
        </p>
      )}
      {data && data.items.length > 0 && (
        <ul className="cards" data-testid="approval-list">
          {data.items.map((approval) => (
            <ApprovalRow key={approval.approval_id} approval={approval} canVote={canVote} now={now} />
          ))}
        </ul>
      )}
    </section>
  );
}
