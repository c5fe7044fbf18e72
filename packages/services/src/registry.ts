import type { ServiceName } from '@algotrade/adapters';
import type { FastifyPluginAsync } from 'fastify';
import type { ServiceContext } from './context.ts';
import { strategyService } from './strategy/strategy.service.ts';
import { marketDataService } from './market-data/market-data.service.ts';
import { backtestService } from './backtest/backtest.service.ts';
import { notificationService } from './notification/notification.service.ts';
import { forwardTestService } from './forward-test/forward-test.service.ts';
import { analyticsService } from './analytics/analytics.service.ts';

/** Each service is one Fastify plugin; the gateway's own routes live in app.ts. */
export const serviceRegistry: Partial<Record<ServiceName, FastifyPluginAsync<{ ctx: ServiceContext }>>> = {
  'market-data': marketDataService as FastifyPluginAsync<{ ctx: ServiceContext }>,
  backtest: backtestService as FastifyPluginAsync<{ ctx: ServiceContext }>,
  notification: notificationService as FastifyPluginAsync<{ ctx: ServiceContext }>,
  strategy: strategyService as FastifyPluginAsync<{ ctx: ServiceContext }>,
  'forward-test': forwardTestService as FastifyPluginAsync<{ ctx: ServiceContext }>,
  analytics: analyticsService as FastifyPluginAsync<{ ctx: ServiceContext }>,
};
