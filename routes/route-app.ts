import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

/**
 * The Fastify instance a TypeBox route plugin receives, so that each route
 * can be registered by its own small function with the same typing.
 */
export type RouteApp = Parameters<FastifyPluginAsyncTypebox>[0]
