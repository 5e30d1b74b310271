// The run folder (--out) of `supra train`: who may write it, and what a run started without
// --resume may do with a folder that already holds files.
//
// A folder whose run stopped before its first checkpoint (killed, out of disk, an error) holds
// only a log and unfinished temporary checkpoint folders: nothing --resume could continue. A
// new run takes such a folder over instead of refusing it, so it never needs `rm -rf`. A folder
// with a checkpoint is continued with --resume; one with a finished model is left alone.
#pragma once
#include <filesystem>

namespace supra::train {

// An exclusive lock on <out>/run.lock (flock), held while the object lives: a second
// `supra train` on the same folder is refused instead of writing over the first. The kernel
// drops the lock when the process dies, so a killed run never leaves the folder locked.
class RunFolderLock {
 public:
  explicit RunFolderLock(const std::filesystem::path& out);  // creates `out`; throws supra::Error when held
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

 private:
  int fd_ = -1;
};

// For a run without --resume: throws supra::Error when `out` holds a checkpoint (continue it
// with --resume) or a finished model. Returns true when it holds the files of a run that
// stopped before its first checkpoint, which the new run replaces.
bool check_folder_for_new_run(const std::filesystem::path& out);

}  // namespace supra::train
