import type { Readable } from 'node:stream'

/** One file to register with S-Drive before its bytes go to S3. */
export interface SDriveFileSpec {
  fileName: string
  sizeBytes: number
  contentType: string
  description?: string
}

/** What S-Drive's POST /files hands back for one file, turned into an S3 form. */
export interface UploadTicket {
  fileName: string
  wipFileId: string
  key: string
  /** S3 browser-POST form fields in the order they must be sent (before the file part). */
  formFields: [string, string][]
}

export interface CompleteResult {
  wipFileId: string
  success: boolean
  message?: string
}

/** An S-Drive file-object record. */
export interface SDriveFile {
  id: string
  parentId: string
  fileName: string
  sizeBytes: number | null
  key: string | null
  folderId: string | null
  contentType: string | null
}

export interface SDriveTarget {
  parentId: string
  fileObject: string
  parentField: string
}

/** What the S3 upload URL answered to a plain GET of the bucket root. */
export interface UploadUrlAnswer {
  /** null when nothing answered. */
  status: number | null
  /** S3's error code from an XML answer (AccessDenied, NoSuchBucket, …); null when not S3 XML. */
  s3Code: string | null
  /** The network error, when nothing answered. */
  error: string | null
}

export interface SDriveCallOptions {
  signal?: AbortSignal
}

/**
 * The S-Drive upload protocol (POST WIP records → S3 form POST → PUT
 * complete) and the SOQL reads around it. Adapter: src/adapters/sdrive.
 */
export interface SDrive {
  /** Step 1, batched: one call for many files of the same parent. */
  startUpload(
    target: SDriveTarget,
    files: SDriveFileSpec[],
    options?: SDriveCallOptions,
  ): Promise<UploadTicket[]>
  /**
   * Step 2: streams `body` (exactly sizeBytes long) to S3. Returns the S3
   * version id if the bucket has one, and the ETag S3 answered with.
   */
  uploadToS3(
    ticket: UploadTicket,
    body: Readable,
    sizeBytes: number,
    contentType: string,
    options?: SDriveCallOptions,
  ): Promise<{ versionId: string | null; etag: string | null }>
  /** Step 3, batched. */
  completeUpload(
    wipFileIds: string[],
    versionIds: (string | null)[],
    options?: SDriveCallOptions,
  ): Promise<CompleteResult[]>
  /** Removes WIP records whose upload did not finish, so nothing half-written stays visible. */
  cancelUpload(target: SDriveTarget, wipFileIds: string[], options?: SDriveCallOptions): Promise<void>
  /** Finished (non-WIP, not deleted) files under these parents, optionally only these names. */
  findFiles(
    fileObject: string,
    parentField: string,
    parentIds: string[],
    fileNames?: string[],
    options?: SDriveCallOptions,
  ): Promise<SDriveFile[]>
  /**
   * The current versions (Is_Latest_Version__c true) of these names under these parents: what a
   * new version supersedes. Only the version policy asks, so only it needs the field.
   */
  findLatestFiles(
    fileObject: string,
    parentField: string,
    parentIds: string[],
    fileNames: string[],
    options?: SDriveCallOptions,
  ): Promise<SDriveFile[]>
  /** WIP records (unfinished uploads) under these parents, for cleanup after a crash. */
  findWipFiles(
    fileObject: string,
    parentField: string,
    parentIds: string[],
    options?: SDriveCallOptions,
  ): Promise<SDriveFile[]>
  /**
   * The id of the folder at `path` (names, outermost first) under the
   * parent record, creating missing folders. Folders are file-object rows
   * with Content_Type__c = 'Folder', nested by Parent_Folder_Id__c.
   */
  ensureFolder(target: SDriveTarget, path: string[], options?: SDriveCallOptions): Promise<string>
  /** Puts finished files into a folder (Parent_Folder_Id__c), batched. */
  moveToFolder(
    fileObject: string,
    fileIds: string[],
    folderId: string,
    options?: SDriveCallOptions,
  ): Promise<void>
  /** Finished files by their ids (any parent). */
  filesByIds(
    fileObject: string,
    parentField: string,
    ids: string[],
    options?: SDriveCallOptions,
  ): Promise<SDriveFile[]>
  /** Folder rows named `name` at the root of these parents: parent id → folder ids. */
  rootFolders(
    fileObject: string,
    parentField: string,
    parentIds: string[],
    name: string,
    options?: SDriveCallOptions,
  ): Promise<SDriveFile[]>
  /** Expiring download URLs from GET /files, batched; in the order of `files`. */
  downloadUrls(files: { id: string; parentId: string }[], options?: SDriveCallOptions): Promise<string[]>
  /**
   * Streams an S3 object by a URL from downloadUrls; from byte `offset` on
   * (an HTTP Range request) when given, for a transfer that continues.
   */
  openDownload(
    url: string,
    options?: SDriveCallOptions & { offset?: number },
  ): Promise<{ stream: Readable; size: number | null }>
  /**
   * Marks files as no longer the latest version (Is_Latest_Version__c =
   * false), batched: the REST API has no documented way to start a version
   * of an existing file, so a corrected file is added beside it and the
   * older one is flagged.
   */
  markSuperseded(fileObject: string, ids: string[], options?: SDriveCallOptions): Promise<void>
  /** Removes finished files (replace policy), per sdrive.replaceMode. */
  removeFiles(fileObject: string, ids: string[], options?: SDriveCallOptions): Promise<void>
  /** A read-only GET of the configured S3 upload URL (is it a bucket endpoint at all?). */
  checkUploadUrl(options?: SDriveCallOptions): Promise<UploadUrlAnswer>
}
