/**
 * The Domains page's view as its URL holds it (filters and page), and the list request it makes.
 * Its own module because both the page and the Move form (which submits "all matching" with the
 * page's filter) read it: the form no longer imports the page that opens it.
 */
export interface DomainFilter {
  q: string;
  locked: '' | 'true' | 'false';
}

/** The filter plus the page: `cursor` of the page shown ('' on the first) and its number. */
export interface DomainView extends DomainFilter {
  cursor: string;
  page: number;
}

export function domainsUrl(filter: DomainFilter, limit: number, cursor?: string | null) {
  const p = new URLSearchParams({ limit: String(limit) });
  if (filter.q) p.set('q', filter.q);
  if (filter.locked) p.set('locked', filter.locked);
  if (cursor) p.set('cursor', cursor);
  return `/v1/domains?${p}`;
}

/** `?q=…&locked=…&cursor=…&page=…` → the view; anything unknown falls back to the first page, no filter. */
export function readDomainView(search: URLSearchParams): DomainView {
  const locked = search.get('locked');
  const cursor = search.get('cursor') ?? '';
  const page = Number(search.get('page'));
  return {
    q: (search.get('q') ?? '').trim(),
    locked: locked === 'true' || locked === 'false' ? locked : '',
    cursor,
    page: cursor && Number.isInteger(page) && page > 1 ? page : 1,
  };
}

export function domainViewSearch(v: DomainView): string {
  const p = new URLSearchParams();
  if (v.q) p.set('q', v.q);
  if (v.locked) p.set('locked', v.locked);
  if (v.cursor) {
    p.set('cursor', v.cursor);
    p.set('page', String(v.page));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}
