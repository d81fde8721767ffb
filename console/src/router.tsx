import { type AnchorHTMLAttributes, type MouseEvent, useEffect, useState } from 'react';

/** A small history router: the console has seven pages and one detail view, not worth a library. */
const BASE = '/console';

function current(): string {
  const p = window.location.pathname;
  const rest = p.startsWith(BASE) ? p.slice(BASE.length) : p;
  return rest.replace(/\/+$/, '') || '/';
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

/**
 * Goes to `to` (a console path, with its query string if any). `replace` rewrites the current
 * history entry instead of adding one (a search typed letter by letter); `state` rides along in
 * history.state (kept across reloads and back/forward); `scroll: false` keeps the scroll position
 * (a filter change on the same page).
 */
export function navigate(to: string, opts: { replace?: boolean; state?: unknown; scroll?: boolean } = {}) {
  if (opts.replace) window.history.replaceState(opts.state ?? null, '', BASE + to);
  else window.history.pushState(opts.state ?? null, '', BASE + to);
  for (const l of listeners) l();
  if (opts.scroll !== false) window.scrollTo(0, 0);
}

export function usePath(): string {
  const [path, setPath] = useState(current);
  useEffect(() => {
    const l = () => setPath(current());
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return path;
}

/** The query string of the current URL (re-rendered on navigate and back/forward), and history.state. */
export function useSearch(): { search: URLSearchParams; state: unknown } {
  const [snap, setSnap] = useState(() => ({ search: window.location.search, state: window.history.state as unknown }));
  useEffect(() => {
    const l = () => setSnap({ search: window.location.search, state: window.history.state });
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return { search: new URLSearchParams(snap.search), state: snap.state };
}

export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  return (
    <a
      {...rest}
      href={BASE + to}
      onClick={(e: MouseEvent<HTMLAnchorElement>) => {
        onClick?.(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    />
  );
}
