import { Injectable } from '@nestjs/common';
import { DriverException, EntityManager } from '@mikro-orm/postgresql';
import type { Pool, PoolClient, QueryConfig } from 'pg';

/**
 * Statements run on one pool connection, or in one transaction (Sql.transaction). Parameters are
 * written `?`, one for each of `params` in order; no statement may use jsonb's `?` operator (write
 * `jsonb_exists` instead).
 */
export interface SqlSession {
  /**
   * Runs a statement prepared on each pool connection once, under a name of its own: PostgreSQL parses it
   * once per connection, and after a few runs plans it once too. For fixed-shape statements run often,
   * whose best plan does not depend on the values.
   */
  prepared<R>(statement: string, params?: readonly unknown[]): Promise<R[]>;
  /** As `prepared`, each row an array of its columns in select order: no property names to set per row. */
  preparedArrays<R extends unknown[]>(statement: string, params?: readonly unknown[]): Promise<R[]>;
  /**
   * Runs a statement parsed and planned for this call's values: for statements whose best plan depends on
   * them (a LIKE prefix, a containment filter, a keyset position), and for the ones run rarely.
   */
  query<R>(statement: string, params?: readonly unknown[]): Promise<R[]>;
}

/**
 * The one way raw SQL runs in this service: over the ORM's own pg pool (one pool of connections for
 * the ORM and for these), with pg's errors raised as the ORM's exceptions (a unique violation is
 * UniqueConstraintViolationException, a foreign key violation ForeignKeyConstraintViolationException,
 * an unreachable database ConnectionException). A statement on the pool costs a fraction of the CPU of
 * the ORM's query path, here and in PostgreSQL; the ORM stays the way to read and write entities.
 */
@Injectable()
export class Sql implements SqlSession {
  constructor(private readonly em: EntityManager) {}

  prepared<R>(statement: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.run(async () => send<R>(await this.pool(), preparedStatement(statement), params));
  }

  preparedArrays<R extends unknown[]>(statement: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.run(async () => send<R>(await this.pool(), { ...preparedStatement(statement), rowMode: 'array' }, params));
  }

  query<R>(statement: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.run(async () => send<R>(await this.pool(), { text: positional(statement) }, params));
  }

  /**
   * Runs `work` in a transaction on one connection, committed when it resolves and rolled back when it
   * rejects. Keep it short: the connection is out of the pool until then.
   */
  async transaction<T>(work: (session: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.run(async () => (await this.pool()).connect());
    let broken = false;
    try {
      await this.run(() => client.query('begin'));
      const result = await work(this.session(client));
      await this.run(() => client.query('commit'));
      return result;
    } catch (error) {
      // A connection that cannot even roll back is not given back to the pool for another request.
      await client.query('rollback').catch(() => (broken = true));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private session(client: PoolClient): SqlSession {
    return {
      prepared: (statement, params = []) => this.run(() => send(client, preparedStatement(statement), params)),
      preparedArrays: (statement, params = []) => this.run(() => send(client, { ...preparedStatement(statement), rowMode: 'array' }, params)),
      query: (statement, params = []) => this.run(() => send(client, { text: positional(statement) }, params)),
    };
  }

  private pool(): Promise<Pool> {
    return this.em.getConnection().getNativeClient();
  }

  private async run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw error instanceof DriverException ? error : this.em.getPlatform().getExceptionConverter().convertException(error as Error);
    }
  }
}

interface Statement {
  text: string;
  name?: string;
  rowMode?: 'array';
}

async function send<R>(db: Pool | PoolClient, statement: Statement, params: readonly unknown[]): Promise<R[]> {
  // pg's QueryConfig type leaves out rowMode, which its query() honours.
  const { rows } = await db.query({ ...statement, values: [...params] } as QueryConfig);
  return rows as R[];
}

const preparedStatements = new Map<string, { name: string; text: string }>();

/** The statement under its name, the same on every connection: named after its text, which is bounded (no values in it). */
function preparedStatement(statement: string): { name: string; text: string } {
  let prepared = preparedStatements.get(statement);
  if (!prepared) {
    prepared = { name: `sql-${preparedStatements.size + 1}`, text: positional(statement) };
    preparedStatements.set(statement, prepared);
  }
  return prepared;
}

function positional(statement: string): string {
  let position = 0;
  return statement.replace(/\?/g, () => `$${++position}`);
}
