/** The HTTP baseline: a bare Fastify route answering 202, in its own process like the service. */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.post('/bare', async (_request, reply) => reply.code(202).send({ accepted: true }))
const url = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`${JSON.stringify({ url })}\n`)
process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0))
})
