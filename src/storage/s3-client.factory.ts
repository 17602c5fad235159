import { S3Client } from '@aws-sdk/client-s3';
import { AppConfig } from '../config/app-config';

export function createS3Client(s3: AppConfig['s3']): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: s3.credentials,
    // Default checksums send streamed bodies aws-chunked, which S3-compatible servers may store verbatim.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}
