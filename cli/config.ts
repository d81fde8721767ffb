import { refused } from './exit-codes';

export interface CliConfig {
  url: string;
  apiKey: string;
}

/** What `npm start` listens on; the CLI talks to a local system when nothing else is said. */
const DEFAULT_URL = 'http://127.0.0.1:3000';

/**
 * The API key comes only from the environment: a key on the command line would be visible to
 * every user of the machine (`ps`) and kept in shell history.
 */
export function readConfig(env: NodeJS.ProcessEnv, urlOption?: string): CliConfig {
  const raw = (urlOption ?? env.DOMAIN_PUSH_URL ?? DEFAULT_URL).trim();
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused(`DOMAIN_PUSH_URL is not a URL: "${raw}" (expected e.g. ${DEFAULT_URL}).`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refused(`DOMAIN_PUSH_URL must be http(s): "${raw}".`);
  const apiKey = env.DOMAIN_PUSH_API_KEY?.trim();
  if (!apiKey) throw refused('DOMAIN_PUSH_API_KEY is not set: export your reseller API key first.');
  return { url: url.toString().replace(/\/+$/, ''), apiKey };
}
