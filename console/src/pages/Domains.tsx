import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { type KeyboardEvent, useEffect, useRef, useState } from 'react';
import { type Domain, type Me, type Page, api } from '../api';
import { navigate, useSearch } from '../router';
import { ErrorBox, Field } from '../ui';
import { trailOf } from '../pager';
import { type DomainFilter, type DomainView, domainsUrl, domainViewSearch, readDomainView } from './domain-view';
import { MoveForm, type Selection } from './MoveForm';

const PAGE_SIZE = 50;
/** How long typing pauses before the search applies. */
const SEARCH_DELAY_MS = 250;

export function DomainsPage({ me }: { me: Me }) {
  // Filters and page live in the URL (reload and back/forward show the same view); the cursors of
  // the pages before this one ride in history.state.
  const { search: params, state } = useSearch();
  const view = readDomainView(params);
  const trail = trailOf(state);
  const filter: DomainFilter = { q: view.q, locked: view.locked };
  const filterKey = `${view.q}\n${view.locked}`;
  const [search, setSearch] = useState(view.q);
  const [selection, setSelection] = useState<Selection>({ all: false, names: new Set() });
  const [menuOpen, setMenuOpen] = useState(false);
  const [form, setForm] = useState<null | 'selection' | 'list'>(null);
  const page = view.page - 1;
  /** The search being typed has added its history entry: later letters replace it. */
  const typing = useRef(false);
  const applied = useRef(view.q);

  /** A new view: a filter change starts again at the first page and adds a history entry unless `replace`. */
  const go = (next: Partial<DomainView>, opts: { replace?: boolean; trail?: string[] } = {}) => {
    // Read from the URL, not this render: a search applied after a pause must not undo a filter set meanwhile.
    const now = readDomainView(new URLSearchParams(window.location.search));
    const filterChanged = (['q', 'locked'] as const).some((k) => k in next && next[k] !== now[k]);
    const v: DomainView = { ...now, ...next };
    if (filterChanged) {
      v.cursor = '';
      v.page = 1;
    }
    navigate(`/domains${domainViewSearch(v)}`, {
      replace: opts.replace,
      scroll: false,
      state: { trail: filterChanged ? [] : (opts.trail ?? trailOf(window.history.state)) },
    });
  };

  // The URL changed from elsewhere (back/forward, a reload): show its search in the box.
  useEffect(() => {
    if (view.q !== applied.current) {
      applied.current = view.q;
      setSearch(view.q);
    }
  }, [view.q]);
  // The name search applies as the reseller types, after a short pause.
  // biome-ignore lint/correctness/useExhaustiveDependencies: go reads the URL itself
  useEffect(() => {
    const q = search.trim();
    if (q === applied.current) return;
    const t = setTimeout(() => {
      applied.current = q;
      go({ q }, { replace: typing.current });
      typing.current = true;
    }, SEARCH_DELAY_MS);
    return () => clearTimeout(t);
  }, [search]);
  // A new filter starts with nothing selected.
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset on filter change only
  useEffect(() => {
    setSelection({ all: false, names: new Set() });
  }, [filterKey]);

  const list = useQuery({
    queryKey: ['domains', filter, view.cursor],
    queryFn: () => api<Page<Domain> & { total: number }>('GET', domainsUrl(filter, PAGE_SIZE, view.cursor)),
    placeholderData: keepPreviousData,
  });
  const rows = list.data?.items ?? [];
  const total = list.data?.total ?? 0;
  const selectedCount = selection.all ? total : selection.names.size;
  const pageAllSelected = rows.length > 0 && rows.every((d) => selection.all || selection.names.has(d.name));

  const toggle = (name: string) =>
    setSelection((s) => {
      if (s.all) return s;
      const names = new Set(s.names);
      if (names.has(name)) names.delete(name);
      else names.add(name);
      return { all: false, names };
    });
  const togglePage = () =>
    setSelection((s) => {
      if (s.all) return { all: false, names: new Set() };
      const names = new Set(s.names);
      for (const d of rows) pageAllSelected ? names.delete(d.name) : names.add(d.name);
      return { all: false, names };
    });

  return (
    <section aria-labelledby="domains-title">
      <div className="title-row">
        <h1 id="domains-title">Domains</h1>
        <BulkActionsMenu
          open={menuOpen}
          setOpen={setMenuOpen}
          onMove={() => {
            setForm(selectedCount > 0 ? 'selection' : 'list');
            setMenuOpen(false);
          }}
        />
      </div>

      {form && (
        <MoveForm
          me={me}
          initialSource={form}
          selection={selection}
          selectedCount={selectedCount}
          filter={filter}
          onClose={() => setForm(null)}
        />
      )}

      <form className="filters" aria-label="Filter domains" onSubmit={(e) => e.preventDefault()}>
        <Field label="Search domains">
          {(p) => (
            <input
              {...p}
              type="search"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
              onBlur={() => {
                typing.current = false;
              }}
            />
          )}
        </Field>
        <Field label="Locked">
          {(p) => (
            <select {...p} value={filter.locked} onChange={(e) => go({ locked: e.target.value as DomainFilter['locked'] })}>
              <option value="">Any</option>
              <option value="true">Yes</option>
              <option value="false">No</option>
            </select>
          )}
        </Field>
      </form>

      <div className="selection-bar" aria-live="polite">
        <span>
          {selectedCount} selected
          {selection.all ? ` (all ${total} matching)` : ''}
        </span>
        {pageAllSelected && !selection.all && total > rows.length && (
          <button type="button" className="link" onClick={() => setSelection({ all: true, names: new Set() })}>
            Select all {total} matching
          </button>
        )}
        {selectedCount > 0 && (
          <button type="button" className="link" onClick={() => setSelection({ all: false, names: new Set() })}>
            Clear selection
          </button>
        )}
      </div>

      <ErrorBox error={list.error} />
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Your domains</caption>
          <thead>
            <tr>
              <th scope="col" className="check">
                <input type="checkbox" aria-label="Select all on this page" checked={pageAllSelected} onChange={togglePage} />
              </th>
              <th scope="col">Domain</th>
              <th scope="col">Locked</th>
              <th scope="col" className="wide-only">
                Brand
              </th>
              <th scope="col" className="wide-only">
                Profile
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.name}>
                <td className="check">
                  <input
                    type="checkbox"
                    aria-label={`Select ${d.name}`}
                    checked={selection.all || selection.names.has(d.name)}
                    disabled={selection.all}
                    onChange={() => toggle(d.name)}
                  />
                </td>
                <td>{d.name}</td>
                <td>{d.locked ? 'Yes' : 'No'}</td>
                <td className="wide-only">{d.brand ? (d.brand.name ?? '(copied brand)') : '—'}</td>
                <td className="wide-only">{d.profile?.username ?? '—'}</td>
              </tr>
            ))}
            {rows.length === 0 && (
              <tr>
                <td colSpan={5}>
                  {list.isPending ? 'Loading…' : list.isError ? 'The domains could not be loaded.' : 'No domain matches.'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Domain pages">
        <button
          type="button"
          className="secondary"
          disabled={page === 0}
          onClick={() => go({ cursor: trail[trail.length - 1] ?? '', page: view.page - 1 }, { trail: trail.slice(0, -1) })}
        >
          Previous page
        </button>
        <span aria-live="polite">
          {list.isPending
            ? 'Loading…'
            : total === 0
              ? 'No domains'
              : `${page * PAGE_SIZE + 1}–${page * PAGE_SIZE + rows.length} of ${total}`}
        </span>
        <button
          type="button"
          className="secondary"
          disabled={!list.data?.next_cursor}
          onClick={() => go({ cursor: list.data?.next_cursor ?? '', page: view.page + 1 }, { trail: [...trail, view.cursor] })}
        >
          Next page
        </button>
      </nav>
    </section>
  );
}

/** A menu button (WAI-ARIA menu pattern): Enter/Space/ArrowDown opens, Escape closes and returns focus. */
function BulkActionsMenu({ open, setOpen, onMove }: { open: boolean; setOpen: (o: boolean) => void; onMove: () => void }) {
  const button = useRef<HTMLButtonElement>(null);
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (open) first.current?.focus();
  }, [open]);
  const close = () => {
    setOpen(false);
    button.current?.focus();
  };
  return (
    <div className="menu-wrap">
      <button
        ref={button}
        type="button"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls="bulk-actions-menu"
        onClick={() => setOpen(!open)}
        onKeyDown={(e: KeyboardEvent) => {
          if (e.key === 'ArrowDown') {
            e.preventDefault();
            setOpen(true);
          } else if (e.key === 'Escape') close();
        }}
      >
        Bulk actions ▾
      </button>
      {open && (
        <div
          className="menu"
          role="menu"
          id="bulk-actions-menu"
          aria-label="Bulk actions"
          tabIndex={-1}
          onKeyDown={(e: KeyboardEvent) => {
            if (e.key === 'Escape') close();
          }}
        >
          <button ref={first} type="button" role="menuitem" onClick={onMove}>
            Move to another reseller
          </button>
        </div>
      )}
    </div>
  );
}
