import { Injectable, Logger } from '@nestjs/common';
import { DriverException, EntityManager } from '@mikro-orm/postgresql';
import type { Pool, PoolClient, QueryConfig } from 'pg';

/**
 * Runs raw statements: Sql on any connection of the pool, a session of Sql.transaction in its transaction.
 * Parameters are written `?`, one for each of `params` in order, so no statement may use jsonb's `?`
 * operator (write `jsonb_exists` instead).
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

/** Runs statements on what `connection` gives (the pool, or one of its clients), raising pg's errors converted by `convert`. */
class StatementRunner implements SqlSession {
  constructor(
    private readonly connection: () => Promise<Pool | PoolClient>,
    protected readonly convert: (error: unknown) => Error,
  ) {}

  prepared<R>(statement: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.send<R>(preparedStatement(statement), params);
  }

  preparedArrays<R extends unknown[]>(statement: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.send<R>({ ...preparedStatement(statement), rowMode: 'array' }, params);
  }

  query<R>(statement: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.send<R>({ text: positional(statement) }, params);
  }

  private async send<R>(statement: Statement, params: readonly unknown[]): Promise<R[]> {
    try {
      // pg's QueryConfig type leaves out rowMode, which its query() honours.
      const { rows } = await (await this.connection()).query({ ...statement, values: [...params] } as QueryConfig);
      return rows as R[];
    } catch (error) {
      throw this.convert(error);
    }
  }
}

/**
 * The one way raw SQL runs in this service: over the ORM's own pg pool (one pool of connections for
 * the ORM and for these), with pg's errors raised as the ORM's exceptions (a unique violation is
 * UniqueConstraintViolationException, a foreign key violation ForeignKeyConstraintViolationException,
 * an unreachable database ConnectionException). A statement on the pool costs a fraction of the CPU of
 * the ORM's query path, here and in PostgreSQL; the ORM stays the way to read and write entities.
 */
@Injectable()
export class Sql extends StatementRunner {
  private readonly logger = new Logger(Sql.name);

  constructor(private readonly em: EntityManager) {
    super(
      () => em.getConnection().getNativeClient(),
      (error) =>
        error instanceof DriverException
          ? error
          : em
              .getPlatform()
              .getExceptionConverter()
              .convertException(error as Error),
    );
  }

  /**
   * Runs `work` in a transaction on one connection, committed when it resolves and rolled back when it
   * rejects. Keep it short: the connection is out of the pool until then.
   */
  async transaction<T>(work: (session: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.connect();
    const session = new StatementRunner(() => Promise.resolve(client), this.convert);
    let broken = false;
    try {
      await session.query('begin');
      const result = await work(session);
      await session.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch((rollbackError: unknown) => {
        // A connection that cannot even roll back is not given back to the pool for another request.
        broken = true;
        this.logger.warn(`A transaction could not be rolled back; its connection is closed: ${String(rollbackError)}`);
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private async connect(): Promise<PoolClient> {
    try {
      return await (await this.em.getConnection().getNativeClient()).connect();
    } catch (error) {
      throw this.convert(error);
    }
  }
}

interface Statement {
  text: string;
  name?: string;
  rowMode?: 'array';
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
