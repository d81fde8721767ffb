import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useRef, useState } from 'react';
import { ApiError, type Domain, type Me, type Page, api } from '../api';
import { navigate } from '../router';
import { ErrorBox, Field } from '../ui';
import { type DomainFilter, domainsUrl } from './Domains';

export interface Selection {
  /** every domain matching the filter ("select all N matching") */
  all: boolean;
  names: Set<string>;
}

interface Prediction {
  total: number;
  predicted: { pushed: number; skipped: number; failed: number };
  items: { domain: string; status: string; reason: string | null; was_locked: boolean }[];
}

type FieldName = 'gaining' | 'domains' | 'profile' | 'email';

/**
 * A pasted or uploaded list: names separated by lines, commas or spaces; or a CSV whose first
 * line is a header naming the domain column first (`domain,...`), whose first column is taken.
 */
export function parseDomainList(text: string): string[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  if (lines.length && /^"?(domain|name|domain_name)"?\s*(,|$)/i.test(lines[0].trim()))
    return lines
      .slice(1)
      .map((l) => l.split(',')[0].trim().replace(/^"|"$/g, ''))
      .filter(Boolean);
  return text.split(/[\s,;]+/).filter(Boolean);
}

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
  const invalid = (err.details as { invalid?: { position: number; value: string; reason: string }[] } | undefined)?.invalid;
  if (err.code === 'invalid_domains' && invalid?.length) {
    const shown = invalid
      .slice(0, 5)
      .map((i) => `#${i.position} "${i.value}" (${i.reason})`)
      .join(', ');
    return `${err.message} ${shown}${invalid.length > 5 ? ` and ${invalid.length - 5} more` : ''}`;
  }
  return err.message;
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
  const [source, setSource] = useState<'selection' | 'list'>(selectedCount > 0 ? initialSource : 'list');
  const [listText, setListText] = useState('');
  const [gaining, setGaining] = useState('');
  const [mode, setMode] = useState<'new' | 'existing'>('new');
  const [profile, setProfile] = useState({ domain: '', username: '', password: '' });
  const [applyToLocked, setApplyToLocked] = useState(false);
  const [emailTo, setEmailTo] = useState('');
  // One key per form: a double click or a retry returns the same job instead of a second push.
  const idempotencyKey = useRef(randomKey());

  const body = async (dryRun: boolean) => {
    const domains = source === 'list' ? parseDomainList(listText) : selection.all ? await allMatching(filter) : [...selection.names];
    return {
      gaining_reseller: gaining.trim(),
      domains,
      profile: mode === 'new' ? { mode: 'new' } : { mode: 'existing', ...profile },
      apply_to_locked: applyToLocked,
      ...(emailTo.trim() ? { email_results_to: emailTo.trim() } : {}),
      dry_run: dryRun,
    };
  };
  const preview = useMutation({ mutationFn: async () => api<Prediction>('POST', '/v1/bulk-pushes', await body(true)) });
  const move = useMutation({
    mutationFn: async () =>
      api<{ id: string; total: number }>('POST', '/v1/bulk-pushes', await body(false), { 'Idempotency-Key': idempotencyKey.current }),
    onSuccess: (job) => {
      qc.invalidateQueries({ queryKey: ['jobs'] });
      qc.invalidateQueries({ queryKey: ['domains'] });
      navigate(`/queue?submitted=${job.id}`);
    },
  });
  const refusal = (move.error ?? preview.error) as Error | null;
  const apiRefusal = refusal instanceof ApiError ? refusal : null;
  const errField = apiRefusal ? fieldOf(apiRefusal) : undefined;
  const errorFor = (f: FieldName) => (apiRefusal && errField === f ? refusalText(apiRefusal) : undefined);

  const onFile = async (file: File | undefined) => {
    if (file) setListText(await file.text());
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    preview.reset();
    move.mutate();
  };
  const busy = move.isPending || preview.isPending;

  return (
    <section className="panel" aria-labelledby={titleId}>
      <h2 id={titleId}>Move to another reseller</h2>
      <p className="warning" role="note">
        <strong>A push cannot be undone.</strong> The domains move to the gaining reseller with their users, mail and settings; only the
        gaining reseller can give them back.
      </p>
      <form onSubmit={submit} noValidate>
        <fieldset>
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
              <Field label="Domain list" hint="One name per line, or CSV with the domain in the first column.">
                {(p) => <textarea {...p} rows={6} value={listText} onChange={(e) => setListText(e.target.value)} />}
              </Field>
              <Field label="Upload a list (text or CSV)">
                {(p) => <input {...p} type="file" accept=".txt,.csv,text/plain,text/csv" onChange={(e) => onFile(e.target.files?.[0])} />}
              </Field>
            </>
          )}
          {errorFor('domains') && <p className="field-error">{errorFor('domains')}</p>}
        </fieldset>

        <Field label="Gaining reseller's username" error={errorFor('gaining')}>
          {(p) => <input {...p} type="text" autoComplete="off" required value={gaining} onChange={(e) => setGaining(e.target.value)} />}
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
          Apply to locked domains
        </label>

        <Field
          label="Email results to"
          error={errorFor('email')}
          hint="Optional: the results (with a CSV of every domain) are emailed when the job ends."
        >
          {(p) => <input {...p} type="email" value={emailTo} onChange={(e) => setEmailTo(e.target.value)} />}
        </Field>

        {apiRefusal && !errField && <ErrorBox error={apiRefusal} />}
        {refusal && !apiRefusal && <ErrorBox error={refusal} />}

        <div className="actions">
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() => {
              move.reset();
              preview.mutate();
            }}
          >
            Preview
          </button>
          <button type="submit" className="danger" disabled={busy}>
            Move domain
          </button>
          <button type="button" className="link" onClick={onClose}>
            Close
          </button>
        </div>
        <p className="visually-hidden" aria-live="polite">
          {busy ? 'Working…' : ''}
        </p>
      </form>

      {preview.data && <PreviewResult p={preview.data} me={me} />}
    </section>
  );
}

function PreviewResult({ p }: { p: Prediction; me: Me }) {
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
