import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState } from 'react';
import { ApiError, type Domain, type Me, type Page, api, formatDate } from '../api';
import { navigate } from '../router';
import { ErrorBox, Field } from '../ui';
import { type DomainFilter, domainsUrl } from './domain-view';
import { invalidListMessage, parseDomainList, whereText, type InvalidEntry } from '../../../shared/catalog/domain-list';

export interface Selection {
  /** every domain matching the filter ("select all N matching") */
  all: boolean;
  names: Set<string>;
}

interface PredictedItem {
  domain: string;
  status: string;
  reason: string | null;
  was_locked: boolean;
}

interface Prediction {
  total: number;
  duplicates_removed?: number;
  predicted: { pushed: number; skipped: number; failed: number };
  /** When the job would start (null: at once). */
  start_at?: string | null;
  items: PredictedItem[];
}

type FieldName = 'gaining' | 'domains' | 'profile' | 'email' | 'start' | 'startAt';
type Errors = Partial<Record<FieldName, string>>;

/** When the move starts: a grace window (seconds), a time, or the gaining reseller's next billing cycle. */
type StartChoice = '30' | '300' | '0' | 'at' | 'next_cycle';
type EmailChoice = 'account' | 'other' | 'none';

/** The console's grace window by default: time to stop a move started by mistake. */
const DEFAULT_START: StartChoice = '30';
/** From this many domains, the person types the gaining reseller's username to confirm. */
const TYPED_CONFIRMATION_FROM = 1000;
const MAX_SCHEDULE_DAYS = 30;

const fmt = (n: number) => n.toLocaleString('en-US');
const domainsWord = (n: number) => `${fmt(n)} domain${n === 1 ? '' : 's'}`;

/** Works outside secure contexts too (crypto.randomUUID does not, e.g. plain HTTP on a LAN name). */
function randomKey(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/** Which field of the form an API refusal is about, so its message shows next to that field. */
function fieldOf(err: ApiError): FieldName | undefined {
  const fields = Object.keys(err.fieldMessages());
  if (fields.some((f) => f.startsWith('gaining_reseller'))) return 'gaining';
  if (fields.some((f) => f.startsWith('email_results_to'))) return 'email';
  if (fields.some((f) => f.startsWith('profile'))) return 'profile';
  if (fields.some((f) => f.startsWith('start_at'))) return 'startAt';
  if (fields.some((f) => f.startsWith('start_after_seconds'))) return 'start';
  if (fields.some((f) => f.startsWith('domain'))) return 'domains';
  switch (err.code) {
    case 'unknown_reseller':
    case 'not_authorized':
      return 'gaining';
    case 'feature_disabled':
      return /gaining/.test(err.message) ? 'gaining' : undefined;
    case 'invalid_profile_credentials':
      return 'profile';
    case 'invalid_domains':
    case 'too_many_domains':
      return 'domains';
    case 'invalid_request':
      return /itself/.test(err.message) ? 'gaining' : undefined;
  }
  return undefined;
}

function refusalText(err: ApiError): string {
  const details = err.details as { invalid?: InvalidEntry[]; invalid_count?: number } | undefined;
  const invalid = details?.invalid;
  if (err.code === 'invalid_domains' && invalid?.length) {
    // Where each bad entry is (line, and column in a CSV), as the API and the CLI say it.
    const count = details?.invalid_count ?? invalid.length;
    const shown = invalid
      .slice(0, 5)
      .map((i) => `${whereText(i)}: "${i.value}" (${i.reason})`)
      .join('; ');
    return `${count} domain name(s) are not valid: ${shown}${count > 5 ? ` and ${count - 5} more` : ''}.`;
  }
  return err.message;
}

/**
 * A refusal in a sentence a reseller understands. The API's validation messages name body paths
 * and validator words ("body.gaining_reseller: Too small: …"); the form says what to do instead.
 */
function sentenceFor(err: ApiError, field: FieldName | undefined): string {
  const [path, raw] = Object.entries(err.fieldMessages())[0] ?? ['', ''];
  const said = raw.toLowerCase();
  if (err.code === 'invalid_request' && path) {
    switch (field) {
      case 'gaining':
        return /small|empty|required|expected string/.test(said)
          ? "Enter the gaining reseller's username."
          : "Enter the gaining reseller's username as it is on the platform (letters, digits and dashes).";
      case 'email':
        return 'Enter an email address like name@example.com, or choose another option for the results email.';
      case 'profile':
        return "Enter the existing profile's domain, username and password.";
      case 'startAt':
        if (/past/.test(said)) return 'That start time has passed: choose a time to come.';
        if (/days ahead/.test(said)) return `A move can be scheduled at most ${MAX_SCHEDULE_DAYS} days ahead.`;
        return 'Choose a valid date and time for the move to start.';
      case 'start':
        return 'Choose when the move starts from the list.';
      case 'domains':
        if (said === 'empty') return 'The list of domains is empty: paste or upload at least one domain name.';
        if (said === 'unknown field') break;
        return refusalText(err);
    }
  }
  return refusalText(err);
}

async function allMatching(filter: DomainFilter): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<Domain> = await api<Page<Domain>>('GET', domainsUrl(filter, 1000, cursor));
    names.push(...page.items.map((d) => d.name));
    cursor = page.next_cursor;
  } while (cursor);
  return names;
}

/** A datetime-local value ("2026-12-05T14:30") for a moment, in the browser's time zone. */
function localInputValue(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

type Body = Record<string, unknown>;

export function MoveForm({
  me,
  initialSource,
  selection,
  selectedCount,
  filter,
  onClose,
}: {
  me: Me;
  initialSource: 'selection' | 'list';
  selection: Selection;
  selectedCount: number;
  filter: DomainFilter;
  onClose: () => void;
}) {
  const qc = useQueryClient();
  const titleId = useId();
  const title = useRef<HTMLHeadingElement>(null);
  const moveButton = useRef<HTMLButtonElement>(null);
  const [source, setSource] = useState<'selection' | 'list'>(selectedCount > 0 ? initialSource : 'list');
  const [listText, setListText] = useState('');
  const [gaining, setGaining] = useState('');
  const [mode, setMode] = useState<'new' | 'existing'>('new');
  const [profile, setProfile] = useState({ domain: '', username: '', password: '' });
  const [applyToLocked, setApplyToLocked] = useState(false);
  const [skipInvalid, setSkipInvalid] = useState(false);
  const [emailChoice, setEmailChoice] = useState<EmailChoice>('account');
  const [emailTo, setEmailTo] = useState('');
  const [start, setStart] = useState<StartChoice>(DEFAULT_START);
  const [startAt, setStartAt] = useState('');
  const [checked, setChecked] = useState<Errors>({});
  const [review, setReview] = useState<{ body: Body; prediction: Prediction; key: string } | null>(null);

  // The form opens with focus on its heading: a screen reader says where it is, Tab goes on from there.
  useEffect(() => {
    title.current?.focus();
  }, []);

  // A list goes as its text: the API reads it with the same parser (shared/catalog/domain-list.ts) and names lines in its answers.
  const collectDomains = async () =>
    source === 'list' ? { domain_list: listText } : { domains: selection.all ? await allMatching(filter) : [...selection.names] };

  /** What the form asks for, or the sentences saying what is missing (checked before any request). */
  const check = (): Errors => {
    const e: Errors = {};
    const g = gaining.trim();
    if (!g) e.gaining = "Enter the gaining reseller's username.";
    else if (g.toLowerCase() === me.username.toLowerCase())
      e.gaining = "You can't move domains to yourself: enter the gaining reseller's username.";
    if (source === 'list' && !listText.trim()) e.domains = 'Paste or upload at least one domain name.';
    else if (source === 'list' && !skipInvalid) {
      const bad = parseDomainList(listText).invalid;
      if (bad.length) e.domains = `${invalidListMessage(bad)} Correct them, or skip invalid entries.`;
    }
    if (mode === 'existing' && (!profile.domain.trim() || !profile.username.trim() || !profile.password))
      e.profile = "Enter the existing profile's domain, username and password.";
    if (emailChoice === 'other' && !EMAIL.test(emailTo.trim()))
      e.email = emailTo.trim() ? 'Enter an email address like name@example.com.' : 'Enter the email address the results go to.';
    if (start === 'at') {
      const at = startAt ? new Date(startAt) : null;
      if (!at || Number.isNaN(at.getTime())) e.startAt = 'Choose the date and time the move starts.';
      else if (at.getTime() <= Date.now()) e.startAt = 'That time has passed: choose a time to come.';
      else if (at.getTime() > Date.now() + MAX_SCHEDULE_DAYS * 86_400_000)
        e.startAt = `A move can be scheduled at most ${MAX_SCHEDULE_DAYS} days ahead.`;
    }
    return e;
  };

  const body = async (): Promise<Body> => ({
    gaining_reseller: gaining.trim(),
    ...(await collectDomains()),
    profile: mode === 'new' ? { mode: 'new' } : { mode: 'existing', ...profile },
    apply_to_locked: applyToLocked,
    // Omitted: the results go to the account email (the API's default).
    ...(emailChoice === 'other' ? { email_results_to: emailTo.trim() } : emailChoice === 'none' ? { email_results_to: null } : {}),
    ...(start === 'at'
      ? { start_at: new Date(startAt).toISOString() }
      : start === 'next_cycle'
        ? { start_at: 'next_cycle' }
        : { start_after_seconds: Number(start) }),
    ...(skipInvalid ? { skip_invalid: true } : {}),
  });

  const focusFirstError = (e: Errors) => {
    const order: FieldName[] = ['domains', 'gaining', 'profile', 'start', 'startAt', 'email'];
    const first = order.find((f) => e[f]);
    if (first) document.querySelector<HTMLElement>(`[data-field="${first}"]`)?.focus();
  };

  /** The dry run: what would happen, nothing changes. `forReview` opens the review step with it. */
  const dryRun = useMutation({
    mutationFn: async (forReview: boolean) => {
      const b = await body();
      const prediction = await api<Prediction>('POST', '/v1/bulk-pushes', { ...b, dry_run: true });
      return { body: b, prediction, forReview };
    },
    onSuccess: (r) => {
      // One key per reviewed request: a double click or a retry of Confirm returns the same job.
      if (r.forReview) setReview({ body: r.body, prediction: r.prediction, key: randomKey() });
    },
    onError: (err) => {
      if (err instanceof ApiError) {
        const f = fieldOf(err);
        if (f) requestAnimationFrame(() => focusFirstError({ [f]: 'x' }));
      }
    },
  });

  const begin = (forReview: boolean) => {
    const e = check();
    setChecked(e);
    dryRun.reset();
    if (Object.keys(e).length) {
      // Let the messages render (and be tied to their fields) before focus lands on the first.
      requestAnimationFrame(() => focusFirstError(e));
      return;
    }
    dryRun.mutate(forReview);
  };

  const refusal = dryRun.error as Error | null;
  const apiRefusal = refusal instanceof ApiError ? refusal : null;
  const errField = apiRefusal ? fieldOf(apiRefusal) : undefined;
  const errorFor = (f: FieldName) => checked[f] ?? (apiRefusal && errField === f ? sentenceFor(apiRefusal, f) : undefined);
  const busy = dryRun.isPending;
  const preview = dryRun.data && !dryRun.data.forReview ? dryRun.data.prediction : null;

  const onFile = async (file: File | undefined) => {
    if (file) setListText(await file.text());
  };

  return (
    <section className="panel move-form" aria-labelledby={titleId}>
      <h2 id={titleId} ref={title} tabIndex={-1}>
        Move to another reseller
      </h2>
      <p className="warning" role="note">
        <strong>A push cannot be undone.</strong> The domains move to the gaining reseller with their users, mail and settings; only the
        gaining reseller can give them back. You review what will happen before anything moves.
      </p>
      {/* Enter in a field submits nothing: moving always goes through the review step and its button. */}
      <form onSubmit={(e) => e.preventDefault()} noValidate>
        <fieldset aria-describedby={errorFor('domains') && source === 'selection' ? `${titleId}-domains-error` : undefined}>
          <legend>Domains to move</legend>
          <label className="inline">
            <input
              type="radio"
              name="source"
              checked={source === 'selection'}
              disabled={selectedCount === 0}
              onChange={() => setSource('selection')}
            />
            The {selectedCount} selected domain{selectedCount === 1 ? '' : 's'}
          </label>
          <label className="inline">
            <input type="radio" name="source" checked={source === 'list'} onChange={() => setSource('list')} />
            Paste or upload a list
          </label>
          {source === 'list' && (
            <>
              <Field label="Domain list" hint="One name per line, or CSV with the domain in the first column." error={errorFor('domains')}>
                {(p) => <textarea {...p} data-field="domains" rows={6} value={listText} onChange={(e) => setListText(e.target.value)} />}
              </Field>
              <Field label="Upload a list (text or CSV)">
                {(p) => <input {...p} type="file" accept=".txt,.csv,text/plain,text/csv" onChange={(e) => onFile(e.target.files?.[0])} />}
              </Field>
              <label className="inline checkbox">
                <input type="checkbox" checked={skipInvalid} onChange={(e) => setSkipInvalid(e.target.checked)} />
                Skip invalid entries (move the valid names; the results list the lines skipped)
              </label>
            </>
          )}
          {source === 'selection' && errorFor('domains') && (
            <p className="field-error" id={`${titleId}-domains-error`} role="alert">
              {errorFor('domains')}
            </p>
          )}
        </fieldset>

        <Field label="Gaining reseller's username" error={errorFor('gaining')}>
          {(p) => (
            <input
              {...p}
              data-field="gaining"
              type="text"
              autoComplete="off"
              spellCheck={false}
              autoCapitalize="none"
              value={gaining}
              onChange={(e) => setGaining(e.target.value)}
            />
          )}
        </Field>

        <fieldset>
          <legend>User accounts</legend>
          <label className="inline">
            <input type="radio" name="profile-mode" checked={mode === 'new'} onChange={() => setMode('new')} />
            Create new profile for each domain
          </label>
          <label className="inline">
            <input type="radio" name="profile-mode" checked={mode === 'existing'} onChange={() => setMode('existing')} />
            Put accounts into an existing profile
          </label>
          {mode === 'existing' && (
            <div className="subfields">
              <Field label="Profile domain">
                {(p) => <input {...p} value={profile.domain} onChange={(e) => setProfile({ ...profile, domain: e.target.value })} />}
              </Field>
              <Field label="Profile username">
                {(p) => (
                  <input
                    {...p}
                    autoComplete="off"
                    value={profile.username}
                    onChange={(e) => setProfile({ ...profile, username: e.target.value })}
                  />
                )}
              </Field>
              <Field label="Profile password" error={errorFor('profile')}>
                {(p) => (
                  <input
                    {...p}
                    data-field="profile"
                    type="password"
                    autoComplete="off"
                    value={profile.password}
                    onChange={(e) => setProfile({ ...profile, password: e.target.value })}
                  />
                )}
              </Field>
            </div>
          )}
        </fieldset>

        <label className="inline checkbox">
          <input type="checkbox" checked={applyToLocked} onChange={(e) => setApplyToLocked(e.target.checked)} />
          Apply to locked domains (unlock, move, lock again)
        </label>

        <Field
          label="When to start"
          error={errorFor('start')}
          hint="Until it starts, you can stop it from the Bulk actions queue and nothing moves."
        >
          {(p) => (
            <select {...p} data-field="start" value={start} onChange={(e) => setStart(e.target.value as StartChoice)}>
              <option value="30">Start after 30 seconds</option>
              <option value="300">Start after 5 minutes</option>
              <option value="0">Start at once</option>
              <option value="at">At a time…</option>
              <option value="next_cycle">At the gaining reseller's next billing cycle</option>
            </select>
          )}
        </Field>
        {start === 'at' && (
          <Field label="Start at (your local time)" error={errorFor('startAt')}>
            {(p) => (
              <input
                {...p}
                data-field="startAt"
                type="datetime-local"
                min={localInputValue(new Date())}
                max={localInputValue(new Date(Date.now() + MAX_SCHEDULE_DAYS * 86_400_000))}
                value={startAt}
                onChange={(e) => setStartAt(e.target.value)}
              />
            )}
          </Field>
        )}
        {start === 'next_cycle' && errorFor('startAt') && (
          <p className="field-error" role="alert">
            {errorFor('startAt')}
          </p>
        )}

        <fieldset>
          <legend>Email results to</legend>
          <label className="inline">
            <input type="radio" name="email-choice" checked={emailChoice === 'account'} onChange={() => setEmailChoice('account')} />
            Your account email{me.email ? `, ${me.email}` : ''} (default)
          </label>
          <label className="inline">
            <input type="radio" name="email-choice" checked={emailChoice === 'other'} onChange={() => setEmailChoice('other')} />
            Another address
          </label>
          {emailChoice === 'other' && (
            <div className="subfields">
              <Field label="Email address for the results" error={errorFor('email')}>
                {(p) => (
                  <input
                    {...p}
                    data-field="email"
                    type="email"
                    autoComplete="email"
                    value={emailTo}
                    onChange={(e) => setEmailTo(e.target.value)}
                  />
                )}
              </Field>
            </div>
          )}
          <label className="inline">
            <input type="radio" name="email-choice" checked={emailChoice === 'none'} onChange={() => setEmailChoice('none')} />
            No email
          </label>
          <p className="hint">The results, with a CSV of every domain, are emailed when the job ends.</p>
        </fieldset>

        {apiRefusal && !errField && <ErrorBox error={new Error(sentenceFor(apiRefusal, undefined))} />}
        {refusal && !apiRefusal && <ErrorBox error={refusal} />}

        <div className="actions">
          <button type="button" className="secondary" disabled={busy} onClick={() => begin(false)}>
            Preview
          </button>
          <button ref={moveButton} type="button" className="danger" disabled={busy} onClick={() => begin(true)}>
            Move domain
          </button>
          <button type="button" className="link" onClick={onClose}>
            Close
          </button>
        </div>
        <p className="visually-hidden" aria-live="polite">
          {busy ? 'Checking what would happen…' : ''}
        </p>
      </form>

      {preview && <PreviewResult p={preview} />}
      {review && (
        <ReviewDialog
          me={me}
          gaining={String(review.body.gaining_reseller)}
          body={review.body}
          prediction={review.prediction}
          idempotencyKey={review.key}
          onBack={() => {
            setReview(null);
            moveButton.current?.focus();
          }}
          onMoved={(id) => {
            qc.invalidateQueries({ queryKey: ['jobs'] });
            qc.invalidateQueries({ queryKey: ['domains'] });
            navigate(`/queue?submitted=${id}`);
          }}
        />
      )}
    </section>
  );
}

/** "30 seconds after you confirm", "Dec 5, 2026, 2:30 PM (your time)": when the job starts, after "Starts:". */
function whenText(body: Body, p: Prediction): string {
  const after = body.start_after_seconds as number | undefined;
  const held = 'Until then you can stop, suspend or reschedule it from the Bulk actions queue.';
  if (body.start_at === 'next_cycle')
    return `at the gaining reseller's next billing cycle${p.start_at ? `, ${formatDate(p.start_at)}` : ''}. ${held}`;
  if (typeof body.start_at === 'string') return `${formatDate(body.start_at)} (your time). ${held}`;
  const stop = 'Until then you can stop it from the Bulk actions queue and nothing moves.';
  if (after && after >= 60) return `${after / 60} minutes after you confirm. ${stop}`;
  if (after) return `${after} seconds after you confirm. ${stop}`;
  return 'at once when you confirm.';
}

const REASON_WORDS: Record<string, string> = {
  not_found: 'not on the platform',
  not_owned: 'not yours',
  locked: 'locked',
  invalid_domain: 'not valid names',
};

/** The review step: what the dry run says will happen, and the one button that moves. */
function ReviewDialog({
  me,
  gaining,
  body,
  prediction: p,
  idempotencyKey,
  onBack,
  onMoved,
}: {
  me: Me;
  gaining: string;
  body: Body;
  prediction: Prediction;
  idempotencyKey: string;
  onBack: () => void;
  onMoved: (id: string) => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const titleId = useId();
  const [typed, setTyped] = useState('');
  const move = useMutation({
    mutationFn: () =>
      api<{ id: string; total: number }>('POST', '/v1/bulk-pushes', { ...body, dry_run: false }, { 'Idempotency-Key': idempotencyKey }),
    onSuccess: (job) => onMoved(job.id),
  });
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (!d.open) d.showModal();
    // Focus on the heading (not on a button): the person reads what will happen before acting.
    heading.current?.focus();
  }, []);

  const moving = p.predicted.pushed;
  const lockedMoving = p.items.filter((i) => i.status === 'pushed' && i.was_locked).length;
  const lockedSkipped = p.items.filter((i) => i.status !== 'pushed' && i.reason === 'locked').length;
  const notMoving = p.items.filter((i) => i.status !== 'pushed' && i.reason !== 'locked');
  const reasons = new Map<string, number>();
  for (const i of notMoving) reasons.set(i.reason ?? 'other', (reasons.get(i.reason ?? 'other') ?? 0) + 1);
  const reasonText = [...reasons].map(([r, n]) => `${fmt(n)} ${REASON_WORDS[r] ?? r.replace(/_/g, ' ')}`).join(', ');
  const locked = body.apply_to_locked
    ? `${fmt(lockedMoving)} locked will be unlocked and relocked`
    : `${fmt(lockedSkipped)} locked will be skipped`;
  const summary =
    `Move ${domainsWord(p.total)} from ${me.username} to ${gaining}: ${fmt(moving)} will move, ${locked}, ` +
    `${fmt(notMoving.length)} skipped or not found; users and mail go with them; this cannot be undone.`;
  const email =
    body.email_results_to === null
      ? 'No results email.'
      : typeof body.email_results_to === 'string'
        ? `The results go to ${body.email_results_to}.`
        : `The results go to your account email${me.email ? `, ${me.email}` : ''}.`;
  const needsTyping = p.total >= TYPED_CONFIRMATION_FROM;
  const typedOk = typed.trim().toLowerCase() === gaining.toLowerCase();
  const canMove = moving > 0 && (!needsTyping || typedOk) && !move.isPending;
  const refusal = move.error instanceof ApiError ? new Error(sentenceFor(move.error, fieldOf(move.error))) : move.error;
  const notMovingList = p.items.filter((i) => i.status !== 'pushed').slice(0, 200);

  return (
    // Escape (the dialog's cancel) goes back like the Back button: nothing is sent.
    <dialog
      ref={ref}
      className="confirm review"
      aria-labelledby={titleId}
      onClose={onBack}
      onCancel={(e) => {
        if (move.isPending) e.preventDefault();
      }}
    >
      <h2 id={titleId} ref={heading} tabIndex={-1}>
        Move {domainsWord(p.total)} to {gaining}?
      </h2>
      <p className="summary">{summary}</p>
      <ul className="review-facts">
        <li>
          <strong>{fmt(moving)}</strong> will move{moving ? ' with their users, mail and settings' : ''}.
        </li>
        {body.apply_to_locked ? (
          <li>
            <strong>{fmt(lockedMoving)}</strong> locked will be unlocked, moved and locked again.
          </li>
        ) : (
          <li>
            <strong>{fmt(lockedSkipped)}</strong> locked will be skipped (Apply to locked domains is off).
          </li>
        )}
        <li>
          <strong>{fmt(notMoving.length)}</strong> skipped or not found{reasonText ? ` (${reasonText})` : ''}.
        </li>
        {!!p.duplicates_removed && (
          <li>
            {fmt(p.duplicates_removed)} duplicate{p.duplicates_removed === 1 ? ' was' : 's were'} removed from the list.
          </li>
        )}
        <li>
          <strong>Starts:</strong> {whenText(body, p)}
        </li>
        <li>{email}</li>
      </ul>
      {notMovingList.length > 0 && (
        <details>
          <summary>Domains that will not move ({fmt(p.total - moving)})</summary>
          <ul className="not-moving">
            {notMovingList.map((i) => (
              <li key={i.domain}>
                {i.domain}: {REASON_WORDS[i.reason ?? ''] ?? i.reason ?? i.status}
              </li>
            ))}
          </ul>
          {p.total - moving > notMovingList.length && <p>…and {fmt(p.total - moving - notMovingList.length)} more.</p>}
        </details>
      )}
      <p className="warning">
        <strong>This cannot be undone.</strong> Only {gaining} can give the domains back.
      </p>
      {moving === 0 && <p role="alert">Nothing would move: go back and change the list or the options.</p>}
      {needsTyping && moving > 0 && <TypedConfirmation gaining={gaining} total={p.total} value={typed} onChange={setTyped} />}
      <ErrorBox error={refusal} />
      <div className="actions">
        <button type="button" className="danger" disabled={!canMove} onClick={() => move.mutate()}>
          {move.isPending ? 'Moving…' : `Move ${domainsWord(p.total)}`}
        </button>
        <button type="button" className="secondary" onClick={() => ref.current?.close()}>
          Back to the form
        </button>
      </div>
    </dialog>
  );
}

/** As a code host asks before deleting a repository: the name typed, not a reflex click. */
function TypedConfirmation({
  gaining,
  total,
  value,
  onChange,
}: {
  gaining: string;
  total: number;
  value: string;
  onChange: (v: string) => void;
}) {
  return (
    <Field
      label={`Type ${gaining} to confirm`}
      hint={`${domainsWord(total)} is a big move: type the gaining reseller's username to enable the Move button.`}
    >
      {(p) => (
        <input
          {...p}
          type="text"
          autoComplete="off"
          spellCheck={false}
          autoCapitalize="none"
          value={value}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
    </Field>
  );
}

function PreviewResult({ p }: { p: Prediction }) {
  const shown = p.items.slice(0, 200);
  return (
    <section className="preview" aria-labelledby="preview-title" aria-live="polite">
      <h3 id="preview-title">Preview (nothing has changed)</h3>
      <p className="counts">
        Predicted: <strong>{p.predicted.pushed} pushed</strong>, <strong>{p.predicted.skipped} skipped</strong>,{' '}
        <strong>{p.predicted.failed} failed</strong> of {p.total}.
      </p>
      <div className="table-wrap short">
        <table>
          <caption className="visually-hidden">Predicted outcome per domain</caption>
          <thead>
            <tr>
              <th scope="col">Domain</th>
              <th scope="col">Predicted</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((i) => (
              <tr key={i.domain}>
                <td>{i.domain}</td>
                <td>{i.status}</td>
                <td>{i.reason ?? (i.was_locked ? 'locked: unlocked, pushed, relocked' : '')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {p.items.length > shown.length && <p>…and {p.items.length - shown.length} more.</p>}
    </section>
  );
}
