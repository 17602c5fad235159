import type { DynamicModule } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from './config/app-config';

/**
 * What one role (the API or the worker) adds to the application. A process loads only the roles it runs
 * (main.ts), so that a worker-only process never loads the API's modules, and their heap is not in its memory.
 */
export interface AppRole {
  /** Its modules, controllers and providers, imported by AppModule. */
  module(config: AppConfig): DynamicModule;
  /** Installs what it serves over HTTP besides its controllers: after the hooks every role shares, before the application starts. */
  install?(app: NestFastifyApplication, config: AppConfig): Promise<void>;
}
