import { type AnchorHTMLAttributes, type MouseEvent, useEffect, useState } from 'react';

/** A small history router: the console has six pages and one detail view, not worth a library. */
export const BASE = '/console';

function current(): string {
  const p = window.location.pathname;
  const rest = p.startsWith(BASE) ? p.slice(BASE.length) : p;
  return rest.replace(/\/+$/, '') || '/';
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

export function navigate(to: string) {
  window.history.pushState(null, '', BASE + to);
  for (const l of listeners) l();
  window.scrollTo(0, 0);
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
