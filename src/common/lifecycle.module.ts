import { Module } from '@nestjs/common';
import { ShutdownSignal } from './shutdown-signal';

@Module({ providers: [ShutdownSignal], exports: [ShutdownSignal] })
export class LifecycleModule {}
