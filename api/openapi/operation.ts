import type { z } from 'zod';
import type { KindTable } from '../../shared/bulk/kind';

export type Auth = 'reseller' | 'operator' | 'none';

interface Reply {
  description: string;
  schema?: z.ZodType;
  /** Other media types this status answers with, as text (CSV export, event stream, metrics). */
  media?: string[];
}

/** One route of the route table, as the reference describes it. Body and query are the validators the route uses. */
export interface Operation {
  summary: string;
  description?: string;
  tag: string;
  auth: Auth;
  body?: z.ZodType;
  bodyRequired?: boolean;
  /** A function of the kind table when the query names kinds' statuses or reasons (the document is built from the app's table). */
  query?: z.ZodObject | ((kinds: KindTable) => z.ZodObject);
  replies: Record<number, Reply>;
  /** Error codes by status, beyond the ones every route of its kind has (added by the builder). */
  errors?: Record<number, string[]>;
  /** The route reads a body but has no validator for all of it (never set today). */
  headers?: { name: string; description: string }[];
  /** Other media types every error of this route answers with (the claim page's HTML for a browser). */
  errorMedia?: string[];
}

/** A JSON answer of `schema`. */
export const json = (description: string, schema: z.ZodType): Reply => ({ description, schema });
