import fs from 'node:fs';
import path from 'node:path';
import { LOG_FILE } from '../shared/platform/logger';
import { demoKeyLines, readRunning, shown, urlLines } from './banner';
import { DEMO_KEYS_FILE, readDemoKeys } from './demo-data';
import { configOrExit } from './lifecycle';

/**
 * `npm run urls`: the addresses, the operator key and the demo keys again, for when the banner of
 * `npm start` has scrolled away. Reads DATA_DIR only (running.json, operator-key, demo-keys.json):
 * it starts nothing and needs no database.
 */
function main() {
  const config = configOrExit();
  const running = readRunning(config.DATA_DIR);
  const base = running?.url ?? `http://localhost:${config.PORT}`;
  const lines = [
    running
      ? `domain-push is running (pid ${running.pid}, since ${running.started_at})`
      : `domain-push is not running from ${shown(path.resolve(config.DATA_DIR))}; \`npm start\` (or \`npm run demo\`) serves these:`,
    ...urlLines(base),
    `  Operator key:   ${operatorKey(config.DATA_DIR, config.ADMIN_API_KEY)}`,
    `  Logs:           ${shown(running?.log_file ?? path.resolve(config.DATA_DIR, LOG_FILE))}`,
  ];
  const keys = readDemoKeys(config.DATA_DIR);
  if (keys) lines.push('', 'Demo keys:', ...demoKeyLines(keys, path.resolve(config.DATA_DIR, DEMO_KEYS_FILE)));
  else lines.push('', 'No demo keys here: `npm run demo` creates the demo data, `npm run demo:reset` refills it; both print the keys.');
  console.log(lines.join('\n'));
}

function operatorKey(dataDir: string, fromEnv: string | undefined): string {
  if (fromEnv) return `${fromEnv}   (ADMIN_API_KEY)`;
  const file = path.resolve(dataDir, 'operator-key');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '(none yet: the first `npm start` creates it)';
}

main();
