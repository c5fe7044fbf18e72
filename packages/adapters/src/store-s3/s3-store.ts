import type { ObjectStore } from '@algotrade/core';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';

export interface S3Options {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Objects in any S3-compatible server (path-style, no checksum trailers, which many servers reject). */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3';
  private readonly s3: S3Client;
  constructor(private readonly opts: S3Options) {
    this.s3 = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region,
      forcePathStyle: true,
      credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }
  async ensureBucket(): Promise<void> {
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.opts.bucket }));
    } catch {
      await this.s3.send(new CreateBucketCommand({ Bucket: this.opts.bucket })).catch((e: Error) => {
        if (!/BucketAlready/.test(e.name)) throw e;
      });
    }
  }
  async put(key: string, body: string | Uint8Array, contentType = 'application/octet-stream'): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.opts.bucket, Key: key, Body: body, ContentType: contentType }),
    );
  }
  async get(key: string): Promise<Uint8Array | null> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: key }));
      return r.Body ? await r.Body.transformToByteArray() : new Uint8Array();
    } catch (e) {
      if (
        (e as Error).name === 'NoSuchKey' ||
        (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
      )
        return null;
      throw e;
    }
  }
  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: key }));
  }
  async ping(): Promise<void> {
    await this.s3.send(new HeadBucketCommand({ Bucket: this.opts.bucket }));
  }
  async close(): Promise<void> {
    this.s3.destroy();
  }
}
