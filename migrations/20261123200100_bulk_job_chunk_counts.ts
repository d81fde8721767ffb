import type { Knex } from 'knex';

/**
 * Item counts per chunk, kept by statement-level triggers on bulk_job_items, so a job view sums at
 * most one row per chunk instead of grouping 50,000 items on every GET (which competed with the
 * workers for the same pages). Triggers rather than code in each writer: every statement that
 * inserts, moves or deletes items (submit, take, results, cancel, fail, future kinds) is counted,
 * in its own transaction, and no writer can forget.
 *
 * One row per (job, chunk), `counts` = {status: n}: a transaction touches one counter row per
 * chunk, in chunk order, so counters add no lock cycle the chunk lock does not already rule out.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table bulk_job_chunk_counts (
      job_id uuid not null references bulk_jobs(id) on delete cascade,
      chunk integer not null,
      counts jsonb not null default '{}'::jsonb,
      primary key (job_id, chunk)
    )`);
  await knex.raw(`
    create function bulk_job_chunk_counts_add(j uuid, c integer, delta jsonb) returns void language sql as $$
      insert into bulk_job_chunk_counts as t (job_id, chunk, counts) values (j, c, delta)
      on conflict (job_id, chunk) do update set counts = (
        select coalesce(jsonb_object_agg(key, total), '{}'::jsonb)
        from (select key, sum(value::bigint) as total
              from (select * from jsonb_each_text(t.counts) union all select * from jsonb_each_text(excluded.counts)) z
              group by key having sum(value::bigint) <> 0) w)
    $$`);
  // Each branch names only the transition tables its event has (plpgsql plans a statement when it
  // first runs it, so the others are never looked up).
  await knex.raw(`
    create function bulk_job_items_count() returns trigger language plpgsql as $$
    declare r record;
    begin
      if tg_op = 'INSERT' then
        for r in select job_id, chunk, jsonb_object_agg(status, n) as d
                 from (select job_id, chunk, status, count(*) as n from new_rows group by 1, 2, 3) x
                 group by job_id, chunk order by job_id, chunk loop
          perform bulk_job_chunk_counts_add(r.job_id, r.chunk, r.d);
        end loop;
      elsif tg_op = 'UPDATE' then
        for r in select job_id, chunk, jsonb_object_agg(status, n) as d
                 from (select job_id, chunk, status, sum(s) as n
                       from (select job_id, chunk, status, 1 as s from new_rows
                             union all select job_id, chunk, status, -1 from old_rows) u
                       group by 1, 2, 3 having sum(s) <> 0) x
                 group by job_id, chunk order by job_id, chunk loop
          perform bulk_job_chunk_counts_add(r.job_id, r.chunk, r.d);
        end loop;
      else
        for r in select job_id, chunk, jsonb_object_agg(status, -n) as d
                 from (select job_id, chunk, status, count(*) as n from old_rows group by 1, 2, 3) x
                 group by job_id, chunk order by job_id, chunk loop
          -- A cascade from bulk_jobs has already removed the counters with the job.
          if exists (select 1 from bulk_jobs where id = r.job_id) then
            perform bulk_job_chunk_counts_add(r.job_id, r.chunk, r.d);
          end if;
        end loop;
      end if;
      return null;
    end $$`);
  await knex.raw(`
    insert into bulk_job_chunk_counts (job_id, chunk, counts)
    select job_id, chunk, jsonb_object_agg(status, n)
    from (select job_id, chunk, status, count(*) as n from bulk_job_items group by 1, 2, 3) x
    group by job_id, chunk`);
  await knex.raw(`create trigger bulk_job_items_count_ins after insert on bulk_job_items
    referencing new table as new_rows for each statement execute function bulk_job_items_count()`);
  await knex.raw(`create trigger bulk_job_items_count_upd after update on bulk_job_items
    referencing old table as old_rows new table as new_rows for each statement execute function bulk_job_items_count()`);
  await knex.raw(`create trigger bulk_job_items_count_del after delete on bulk_job_items
    referencing old table as old_rows for each statement execute function bulk_job_items_count()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger bulk_job_items_count_del on bulk_job_items');
  await knex.raw('drop trigger bulk_job_items_count_upd on bulk_job_items');
  await knex.raw('drop trigger bulk_job_items_count_ins on bulk_job_items');
  await knex.raw('drop function bulk_job_items_count()');
  await knex.raw('drop function bulk_job_chunk_counts_add(uuid, integer, jsonb)');
  await knex.raw('drop table bulk_job_chunk_counts');
}
