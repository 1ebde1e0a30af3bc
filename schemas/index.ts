/** Every named schema, registered once with fastify.addSchema so OpenAPI shows components. */
import { ErrorInfo, ErrorResponse } from './common.js'
import {
  ExportAccepted,
  ExportRequestBody,
  JobActionResult,
  JobDetail,
  JobFile,
  JobList,
  JobSummary,
} from './exports.js'
import { FlowDetail, FlowList, FlowSummary } from './flows.js'
import { Health, Readiness } from './health.js'
import {
  DryRunPlan,
  ItemState,
  PlannedFile,
  RetryAccepted,
  RunAccepted,
  RunCounts,
  RunDetail,
  RunItem,
  RunList,
  RunNote,
  RunState,
  RunSummary,
} from './runs.js'

export const sharedSchemas = [
  ErrorResponse,
  ErrorInfo,
  RunState,
  ItemState,
  RunItem,
  RunNote,
  RunCounts,
  RunSummary,
  RunDetail,
  RunList,
  RunAccepted,
  RetryAccepted,
  PlannedFile,
  DryRunPlan,
  FlowSummary,
  FlowList,
  FlowDetail,
  Health,
  Readiness,
  ExportRequestBody,
  ExportAccepted,
  JobSummary,
  JobFile,
  JobDetail,
  JobList,
  JobActionResult,
]
