import { Module } from '@nestjs/common';
import { Sql } from './sql';

/** Raw SQL on the ORM's pool (Sql), for the modules whose statements the ORM does not express. */
@Module({ providers: [Sql], exports: [Sql] })
export class SqlModule {}
