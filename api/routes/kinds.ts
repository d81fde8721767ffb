import { z } from 'zod';
import { ENGINE_REASONS, type KindTable } from '../../shared/bulk/kind';
import { json } from '../openapi/operation';
import { type Routes, send } from './route';

const Kind = z
  .strictObject({
    name: z.string().describe("the job view's `kind`"),
    noun: z.string().describe('a job of this kind, for people: "Bulk push"'),
    unit: z.string().describe('one item: "domain"'),
    units: z.string().describe('items: "domains"'),
    done_status: z.string().describe('the item status that means done'),
    statuses: z.array(z.string()).describe('every status an item of this kind can have, in the order a filter lists them'),
    reasons: z
      .array(z.strictObject({ code: z.string(), text: z.string().describe('the reason in words') }))
      .describe("the reason codes an item of this kind can end with: the kind's own, then the engine's"),
  })
  .meta({ id: 'Kind' });

type KindView = z.infer<typeof Kind>;

/** Every kind of the table as people and filters see it. */
function kindViews(kinds: KindTable): KindView[] {
  return Object.values(kinds).map((def) => {
    const reasons = { ...def.reasons, ...ENGINE_REASONS };
    return {
      name: def.name,
      noun: def.labels.noun,
      unit: def.labels.unit,
      units: def.labels.units,
      done_status: def.doneStatus,
      statuses: ['pending', 'running', def.doneStatus, 'skipped', 'failed', 'cancelled'],
      reasons: Object.entries(reasons).map(([code, text]) => ({ code, text })),
    };
  });
}

/** The kinds of bulk job this deployment runs: what the console's item filters list. */
export const kinds: Routes = {
  'GET /v1/kinds': {
    handle: ({ deps }) => send(async () => [200, { items: kindViews(deps.kinds) }]),
    summary: 'The kinds of bulk job: their words for people, item statuses and reason codes',
    tag: 'Bulk jobs',
    auth: 'reseller',
    replies: { 200: json('every kind', z.strictObject({ items: z.array(Kind) })) },
  },
};
