import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type as T } from '@sinclair/typebox'
import { ErrorRef, FlowParams } from '../schemas/common.js'
import { RejectionParams } from '../schemas/reviews.js'
import type { Bridge } from '../src/bridge.js'
import { BridgeError } from '../src/domain/errors.js'
import { type KeyValueEntry, keyValueMap } from '../src/domain/key-values.js'
import type { ReviewRecord } from '../src/ports/store.js'
import { acceptMapFormOf } from './key-value-body.js'

function toRejectionView(review: ReviewRecord) {
  return {
    correlationId: review.correlationId,
    flow: review.flow,
    state: review.state,
    fileId: review.fileId,
    recordId: review.recordId,
    originalName: review.originalName,
    returnedName: review.returnedName,
    returnedPath: review.returnedPath,
    reasonCode: review.reasonCode,
    reason: review.reason,
    previousCorrelationId: review.previousCorrelationId,
    resubmissions: review.resubmissions,
    statusUrl: `/v1/flows/${review.flow}/rejections/${review.correlationId}`,
    error: review.error,
    createdAt: review.createdAt,
    updatedAt: review.updatedAt,
  }
}

const rejections: FastifyPluginAsyncTypebox<{ bridge: Bridge }> = async (app, { bridge }) => {
  app.post(
    '/v1/flows/:flow/rejections',
    {
      preValidation: acceptMapFormOf('notify'),
      schema: {
        operationId: 'createRejection',
        summary: 'Send an S-Drive file back to the partner for correction',
        description:
          'Answers 202 at once; the file is written to the flow’s drop zone in the background under a name holding the correlation id, with a note and a .rejected.json beside it. The corrected file that comes back becomes a new version of it. Rejecting the same file again answers 200 with the same rejection.',
        tags: ['reviews'],
        params: FlowParams,
        body: T.Ref('RejectionRequest'),
        response: {
          200: T.Ref('Rejection'),
          202: T.Ref('Rejection'),
          400: ErrorRef,
          401: ErrorRef,
          404: ErrorRef,
          429: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const body = request.body as {
        fileId: string
        reasonCode: string
        reason: string
        notify?: KeyValueEntry[]
      }
      const { review, created } = await bridge.reviews.reject(request.params.flow, {
        fileId: body.fileId,
        reasonCode: body.reasonCode,
        reason: body.reason,
        ...(body.notify ? { notify: keyValueMap(body.notify, 'body.notify') } : {}),
      })
      return reply.code(created ? 202 : 200).send(toRejectionView(review))
    },
  )

  app.get(
    '/v1/flows/:flow/rejections',
    {
      schema: {
        operationId: 'listRejections',
        summary: 'Rejections of a flow, oldest first, each with its resubmissions',
        tags: ['reviews'],
        params: FlowParams,
        response: { 200: T.Ref('RejectionList'), 400: ErrorRef, 401: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => ({
      rejections: (await bridge.reviews.list(request.params.flow)).map(toRejectionView),
    }),
  )

  app.get(
    '/v1/flows/:flow/rejections/:correlationId',
    {
      schema: {
        operationId: 'getRejection',
        summary: 'One rejection: the original file, the reason, and the resubmissions that answered it',
        tags: ['reviews'],
        params: RejectionParams,
        response: { 200: T.Ref('Rejection'), 400: ErrorRef, 401: ErrorRef, 404: ErrorRef },
      },
    },
    async (request) => {
      const review = await bridge.reviews.get(request.params.correlationId)
      if (!review || review.flow !== request.params.flow) {
        throw new BridgeError('NOT_FOUND', `rejection ${request.params.correlationId} does not exist`, {
          details: { correlationId: request.params.correlationId },
        })
      }
      return toRejectionView(review)
    },
  )
}

export default rejections
