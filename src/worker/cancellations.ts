import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { ObjectNotifications } from '../notifications/object-notifications';

/** The AbortControllers of the objects this process is working on, aborted when any process cancels one. */
@Injectable()
export class Cancellations implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly running = new Map<string, AbortController>();
  private subscription?: Subscription;

  constructor(private readonly notifications: ObjectNotifications) {}

  onApplicationBootstrap(): void {
    this.subscription = this.notifications.cancellations$.subscribe((objectId) => this.abort(objectId));
  }

  register(objectId: string): AbortController {
    const controller = new AbortController();
    this.running.set(objectId, controller);
    return controller;
  }

  release(objectId: string, controller: AbortController): void {
    if (this.running.get(objectId) === controller) {
      this.running.delete(objectId);
    }
  }

  abort(objectId: string): void {
    this.running.get(objectId)?.abort(new ObjectCancelledError(objectId));
  }

  /** Aborts every running operation: the worker is stopping and hands its jobs back. */
  abortAll(): void {
    this.running.forEach((controller) => controller.abort(new WorkerStoppingError()));
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }
}

/** The object stopped being processing (cancelled or deleted) under a running operation. */
export class ObjectCancelledError extends Error {
  constructor(objectId: string) {
    super(`Object ${objectId} is no longer processing`);
    this.name = 'AbortError';
  }
}

/** The worker is shutting down: the job goes back to the queue, for another worker to resume. */
export class WorkerStoppingError extends Error {
  constructor() {
    super('The worker is stopping; the job is handed back to the queue');
    this.name = 'AbortError';
  }
}
