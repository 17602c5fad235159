import './operation-process-tracing';
import 'reflect-metadata';
import { DynamicModule, Module } from '@nestjs/common';
import { context } from '@opentelemetry/api';
import { NestFactory } from '@nestjs/core';
import workerpool from 'workerpool';
import { isDependencyFailure } from '../common/dependency-failure';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { ArtifactsService } from '../objects/artifacts.service';
import { OperationRegistry } from '../operations/operation-registry';
import { OperationsModule } from '../operations/operations.module';
import { artifactKeys } from '../storage/artifact-keys';
import { StorageService } from '../storage/storage.service';
import { contextFrom } from '../tracing/trace-context';
import { flushTracing } from '../tracing/tracing-sdk';
import { JobMemory } from './job-memory';
import { OperationRun } from './operation-run';
import { lowerPriority } from './process-priority';
import type { OperationProcessMessage, OperationTask, OperationTaskOutcome, OperationTaskResult } from './operation-task';

/**
 * The body of an operation process (see OperationProcesses): the operations with what they use (S3),
 * and nothing that serves HTTP, holds job locks or writes to PostgreSQL.
 */
@Module({})
class OperationProcessModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: OperationProcessModule,
      imports: [ConfigModule.forRoot(config), OperationsModule],
      providers: [StorageService, ArtifactsService],
    };
  }
}

// Built when the process starts, so that a warm process runs its first task at once. The
// environment is the job process's own (a forked process inherits it).
const config = new AppConfig(process.env);
lowerPriority(config.operationProcessNice);
const services = NestFactory.createApplicationContext(OperationProcessModule.forRoot(config), { logger: false }).then((app) => ({
  storage: app.get(StorageService),
  artifacts: app.get(ArtifactsService),
  registry: app.get(OperationRegistry),
}));
services.catch((error: unknown) => console.error(`Operation process could not start: ${(error as Error).stack ?? String(error)}`));

/**
 * Content streams through an operation in 64 KiB buffers that are garbage as soon as they are read, but whose
 * bytes are freed only when V8 collects their small JS objects, too small to fill the young generation for a long
 * while. V8 waits for 64 MiB of such bytes before it collects on their account: validating a 500 MB CSV at
 * 120 MB/s held that much at once. A scavenge this often while an operation runs frees them as it goes (that
 * process's peak: about 55 MiB lower), and costs well under a millisecond each.
 */
const SCAVENGE_EVERY_MS = 100;

/** Cancellation and budgets end the whole process, so nothing inside it is ever aborted. */
const NEVER_ABORTED = new AbortController().signal;

function tellJob(message: OperationProcessMessage): void {
  workerpool.workerEmit(message);
}

async function runOperationTask(task: OperationTask): Promise<OperationTaskResult> {
  const scavenging = setInterval(() => gc?.({ type: 'minor' }), SCAVENGE_EVERY_MS);
  try {
    return await context.with(contextFrom(task.trace), () => runInTrace(task));
  } finally {
    clearInterval(scavenging);
    if (task.flushSpans) {
      await flushTracing();
    }
  }
}

async function runInTrace(task: OperationTask): Promise<OperationTaskResult> {
  const { storage, artifacts, registry } = await services;
  tellJob({ started: true });
  const memory = new JobMemory(task.carry);
  const run = new OperationRun(task.object, task.operation, NEVER_ABORTED, {
    storage,
    artifacts,
    memory,
    reportProgress: (message) => tellJob({ progress: message }),
  });
  let outcome: OperationTaskOutcome;
  try {
    const ran = await registry.get(task.operation).run(run);
    if (ran.status === 'failed') {
      outcome = { status: 'failed', code: 'invalid_content', reason: ran.reason };
    } else {
      const { body, ...result } = await storage.putJson(
        artifactKeys.result(task.object.identifier, task.operation),
        ran.result,
        NEVER_ABORTED,
      );
      // Kept for the operations after this one.
      memory.keep(result.key, body, 'application/json');
      outcome = { status: 'completed', result, files: run.writtenFiles };
    }
  } catch (error) {
    outcome = thrownOutcome(error);
  }
  return { outcome, carry: memory.additions() };
}

function thrownOutcome(error: unknown): OperationTaskOutcome {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RangeError && /call stack/i.test(message)) {
    return { status: 'failed', code: 'invalid_content', reason: 'the content is nested too deeply to process (stack overflow)' };
  }
  return { status: 'error', cause: isDependencyFailure(error) ? 'dependency' : 'unexpected', message };
}

/** Answers once this process can run operations (OperationProcesses waits for every process at start). */
async function awaitStarted(): Promise<void> {
  await services;
}

workerpool.worker({ runOperationTask, awaitStarted });
