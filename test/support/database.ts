import { Pool } from 'pg';

let pool: Pool | undefined;

/** Direct SQL against the run's database, for asserting on rows. */
export async function query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
  pool ??= new Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  return (await pool.query<T>(sql, params)).rows;
}

export async function objectRow(id: string): Promise<Record<string, unknown> | undefined> {
  return (await query('select * from processing_objects where id = $1', [id]))[0];
}

export async function closeDatabase(): Promise<void> {
  await pool?.end();
  pool = undefined;
}
