import type { Config } from '../platform/config';

/**
 * The base of every link an email carries (the console's job page, the claim link): `PUBLIC_URL`
 * as configured, or `http://localhost:PORT` when it is unset, which is what `npm start` prints as
 * the address of a local install. A deployment others reach sets `PUBLIC_URL`.
 */
export function publicBase(config: Pick<Config, 'PUBLIC_URL' | 'PORT'>): string {
  return (config.PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/+$/, '');
}

/** The job's page in the reseller console (console/src/App.tsx: `/queue/<id>` under `/console`). */
export function consoleJobUrl(config: Pick<Config, 'PUBLIC_URL' | 'PORT'>, jobId: string): string {
  return `${publicBase(config)}/console/queue/${encodeURIComponent(jobId)}`;
}

/** The customer's claim link: the same address opens a page in a browser and answers JSON to a program. */
export function claimLink(config: Pick<Config, 'PUBLIC_URL' | 'PORT'>, token: string): string {
  return `${publicBase(config)}/v1/claims/${encodeURIComponent(token)}`;
}
