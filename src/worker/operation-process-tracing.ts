import { tracingWanted } from '../config/app-config';
import { startTracing } from '../tracing/tracing-sdk';

// Imported first by the operation process body, before the AWS SDK loads. Its environment is the job process's.
if (tracingWanted(process.env)) {
  startTracing('operation-process');
}
