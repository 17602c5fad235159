import { Global, Module } from '@nestjs/common';
import { ShutdownSignal } from './shutdown-signal';

@Global()
@Module({ providers: [ShutdownSignal], exports: [ShutdownSignal] })
export class LifecycleModule {}
