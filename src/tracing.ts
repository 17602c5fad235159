import { tracingWanted } from './config/app-config';
import { loadEnvFile } from './startup/env-file';
import { startTracing } from './tracing/tracing-sdk';

// Imported first by main: tracing has to start before the modules it instruments load. It reads
// .env itself, since the OTEL_* variables may be there and main reads the file only later.
loadEnvFile();
if (tracingWanted(process.env)) {
  startTracing('service');
}
