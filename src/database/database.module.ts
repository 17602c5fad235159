import { Module } from '@nestjs/common';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { AppConfig } from '../config/app-config';
import { mikroOrmOptions } from './mikro-orm.options';

@Module({
  imports: [
    MikroOrmModule.forRootAsync({
      inject: [AppConfig],
      // Every query runs on its own fork (ObjectsRepository), so no request needs the per-request context middleware.
      useFactory: (config: AppConfig) => ({ ...mikroOrmOptions(config), registerRequestContext: false }),
      driver: PostgreSqlDriver,
    }),
  ],
})
export class DatabaseModule {}
