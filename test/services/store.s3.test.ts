import { S3ObjectStore } from '@algotrade/adapters/store-s3/s3-store';
import { storeContract } from '../contracts/store.contract.ts';
import { SERVICES } from '../helpers/env.ts';

storeContract('s3 (S3Proxy)', async () => {
  const s = new S3ObjectStore({
    endpoint: SERVICES.s3,
    bucket: 'algotrade-test',
    region: 'us-east-1',
    accessKeyId: 'local',
    secretAccessKey: 'local',
  });
  await s.ensureBucket();
  return s;
});
