import { navigate } from './router';

/**
 * Cursor paging with the page in the URL (`?cursor=…&page=N`), as the Domains and job pages keep
 * it: the cursors of the pages before this one ride in history.state, so "Previous page" works
 * after a reload and back/forward; a filter change starts again at page 1.
 */
export interface PageView {
  cursor: string;
  page: number;
}

export function readPage(search: URLSearchParams): PageView {
  const cursor = search.get('cursor') ?? '';
  const page = Number(search.get('page'));
  return { cursor, page: cursor && Number.isInteger(page) && page > 1 ? page : 1 };
}

/** Cursors of the pages before this one, carried in history.state. */
export function trailOf(state: unknown): string[] {
  const t = (state as { trail?: unknown } | null)?.trail;
  return Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Goes to `path` with `filters` (empty ones left out) and the page: a changed filter starts at
 * page 1 with an empty trail.
 */
export function goToPage(
  path: string,
  filters: Record<string, string>,
  page: PageView,
  opts: { trail: string[]; replace?: boolean },
): void {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) p.set(k, v);
  if (page.cursor) {
    p.set('cursor', page.cursor);
    p.set('page', String(page.page));
  }
  const q = p.toString();
  navigate(`${path}${q ? `?${q}` : ''}`, { replace: opts.replace, scroll: false, state: { trail: opts.trail } });
}

/** First / Previous / "Page N" / Next, for a list read a cursor at a time. */
export function Pager({
  label,
  view,
  trail,
  nextCursor,
  onPage,
}: {
  label: string;
  view: PageView;
  trail: string[];
  nextCursor: string | null | undefined;
  onPage: (page: PageView, trail: string[]) => void;
}) {
  if (view.page === 1 && !nextCursor) return null;
  return (
    <nav className="pager" aria-label={label}>
      <span>
        {view.page > 1 && (
          <button type="button" className="secondary" onClick={() => onPage({ cursor: '', page: 1 }, [])}>
            First page
          </button>
        )}{' '}
        {view.page > 1 && trail.length === view.page - 1 && (
          <button
            type="button"
            className="secondary"
            onClick={() => onPage({ cursor: trail[trail.length - 1], page: view.page - 1 }, trail.slice(0, -1))}
          >
            Previous page
          </button>
        )}
      </span>
      <span>Page {view.page}</span>
      {nextCursor ? (
        <button
          type="button"
          className="secondary"
          onClick={() => onPage({ cursor: nextCursor, page: view.page + 1 }, [...trail, view.cursor])}
        >
          Next page
        </button>
      ) : (
        <span />
      )}
    </nav>
  );
}
