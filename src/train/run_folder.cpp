#include "train/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "supra/error.h"
#include "train/train_checkpoint.h"

namespace supra::train {
namespace fs = std::filesystem;

RunFolderLock::RunFolderLock(const fs::path& out) {
  fs::create_directories(out);
  const fs::path path = out / "run.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) throw Error("cannot open " + path.string() + ": " + std::system_category().message(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    if (err == EWOULDBLOCK)
      throw Error(out.string() + " is in use by another supra train (it holds " + path.string() + ")");
    throw Error("cannot lock " + path.string() + ": " + std::system_category().message(err));
  }
}

RunFolderLock::~RunFolderLock() { ::close(fd_); }

bool check_folder_for_new_run(const fs::path& out) {
  const fs::path checkpoints = out / "checkpoints";
  if (has_checkpoint(checkpoints))
    throw Error(out.string() + " already holds a training run: continue it with --resume, or choose another --out");
  if (fs::exists(fs::symlink_status(out / "model")))
    throw Error(out.string() + " already holds a finished training run (model/): choose another --out");
  return fs::exists(fs::symlink_status(out / "train_log.csv")) || fs::exists(fs::symlink_status(checkpoints));
}

}  // namespace supra::train
