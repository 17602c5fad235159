import request from 'supertest';
import { closeDatabase } from './support/database';
import { TestApp, startTestApp } from './support/test-app';

describe('start-up', () => {
  afterAll(async () => {
    await closeDatabase();
  });

  it('several processes starting at once against a missing bucket all start, and share the bucket', async () => {
    const bucket = `race-${Date.now().toString(36)}`;
    const apps: TestApp[] = await Promise.all([1, 2, 3].map(() => startTestApp({ S3_BUCKET: bucket })));
    try {
      for (const app of apps) {
        await request(app.baseUrl).get('/health/ready').expect(200);
      }
    } finally {
      await Promise.all(apps.map((app) => app.close()));
    }
  });
});
