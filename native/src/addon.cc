// keepalived-ts native addon: syscalls only. Every byte of protocol encoding and decoding (sockaddrs,
// socket option structs, control messages, packets) lives in TypeScript (src/sys/, src/wire/); this file
// creates non-blocking sockets, sets options from caller-built bytes, watches readiness with libuv and
// hands each received datagram to JavaScript in its own Buffer.
#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

// Error whose `code` is the errno name (EPERM, ENODEV, ...) and whose message names the syscall.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  const char* name = uv_err_name(-err);  // libuv codes are -errno on Unix
  std::string msg = std::string(syscall) + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, name));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall) {
  ErrnoError(env, err, syscall).ThrowAsJavaScriptException();
}

void ThrowType(Napi::Env env, const char* msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
}

class Socket;

// Per-environment registry of open sockets, so that a worker's teardown closes them. Deliberately
// never freed: a Socket finalized after teardown still dereferences it (a few bytes per environment).
struct EnvState {
  std::unordered_set<Socket*> live;
  bool tornDown = false;
  // The Socket constructor, to wrap a descriptor made here (signalSocket).
  Napi::FunctionReference socketCtor;
};

class Socket : public Napi::ObjectWrap<Socket> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Socket",
                       {
                           InstanceAccessor<&Socket::GetFd>("fd"),
                           InstanceMethod<&Socket::SetSockOpt>("setsockopt"),
                           InstanceMethod<&Socket::GetSockOptInt>("getsockoptInt"),
                           InstanceMethod<&Socket::Bind>("bind"),
                           InstanceMethod<&Socket::Connect>("connect"),
                           InstanceMethod<&Socket::GetSockName>("getsockname"),
                           InstanceMethod<&Socket::SendMsg>("sendmsg"),
                           InstanceMethod<&Socket::StartReceiving>("startReceiving"),
                           InstanceMethod<&Socket::StopReceiving>("stopReceiving"),
                           InstanceMethod<&Socket::RefPoll>("ref"),
                           InstanceMethod<&Socket::UnrefPoll>("unref"),
                           InstanceMethod<&Socket::Close>("close"),
                           InstanceMethod<&Socket::Detach>("detach"),
                       });
  }

  // new Socket(domain, type, protocol): SOCK_NONBLOCK | SOCK_CLOEXEC are always added.
  explicit Socket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Socket>(info) {
    Napi::Env env = info.Env();
    state_ = env.GetInstanceData<EnvState>();
    // Adopting a descriptor made in C++ (signalSocket): JavaScript cannot make an External.
    if (info.Length() == 1 && info[0].IsExternal()) {
      fd_ = *info[0].As<Napi::External<int>>().Data();
      state_->live.insert(this);
      return;
    }
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
      ThrowType(env, "Socket(domain, type, protocol): three numbers expected");
      return;
    }
    int domain = info[0].As<Napi::Number>().Int32Value();
    int type = info[1].As<Napi::Number>().Int32Value();
    int protocol = info[2].As<Napi::Number>().Int32Value();
    fd_ = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd_ < 0) {
      ThrowErrno(env, errno, "socket");
      return;
    }
    state_->live.insert(this);
  }

  ~Socket() override {
    CloseInternal();
    if (state_ != nullptr) state_->live.erase(this);
  }

  // Stops polling first, then closes the poll handle (freed in its close callback), then the fd.
  void CloseInternal() {
    if (poll_ != nullptr) {
      if (polling_) uv_poll_stop(poll_);
      polling_ = false;
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (!callback_.IsEmpty()) callback_.Reset();
    if (selfRef_) {
      selfRef_ = false;
      if (!state_->tornDown) Unref();
    }
  }

  void TearDown() {
    CloseInternal();
  }

 private:
  bool CheckOpen(Napi::Env env, const char* syscall) {
    if (fd_ >= 0) return true;
    ThrowErrno(env, EBADF, syscall);
    return false;
  }

  Napi::Value GetFd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), fd_);
  }

  // setsockopt(level, name, value): value is a number (passed as int) or a Buffer (passed as bytes).
  Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber()) {
      ThrowType(env, "setsockopt(level, name, value)");
      return env.Undefined();
    }
    if (!CheckOpen(env, "setsockopt")) return env.Undefined();
    int level = info[0].As<Napi::Number>().Int32Value();
    int name = info[1].As<Napi::Number>().Int32Value();
    int rc;
    if (info[2].IsNumber()) {
      int v = info[2].As<Napi::Number>().Int32Value();
      rc = setsockopt(fd_, level, name, &v, sizeof v);
    } else if (info[2].IsBuffer()) {
      auto b = info[2].As<Napi::Buffer<uint8_t>>();
      rc = setsockopt(fd_, level, name, b.Data(), static_cast<socklen_t>(b.Length()));
    } else {
      ThrowType(env, "setsockopt: value must be a number or a Buffer");
      return env.Undefined();
    }
    if (rc < 0) ThrowErrno(env, errno, "setsockopt");
    return env.Undefined();
  }

  Napi::Value GetSockOptInt(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
      ThrowType(env, "getsockoptInt(level, name)");
      return env.Undefined();
    }
    if (!CheckOpen(env, "getsockopt")) return env.Undefined();
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(fd_, info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(), &v, &len) <
        0) {
      ThrowErrno(env, errno, "getsockopt");
      return env.Undefined();
    }
    return Napi::Number::New(env, v);
  }

  Napi::Value AddrCall(const Napi::CallbackInfo& info, bool isConnect) {
    Napi::Env env = info.Env();
    const char* sc = isConnect ? "connect" : "bind";
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      ThrowType(env, "bind/connect(sockaddr: Buffer)");
      return env.Undefined();
    }
    if (!CheckOpen(env, sc)) return env.Undefined();
    auto b = info[0].As<Napi::Buffer<uint8_t>>();
    if (b.Length() > sizeof(sockaddr_storage)) {
      ThrowErrno(env, EINVAL, sc);
      return env.Undefined();
    }
    sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, b.Data(), b.Length());
    int rc = isConnect ? connect(fd_, reinterpret_cast<sockaddr*>(&ss), static_cast<socklen_t>(b.Length()))
                       : bind(fd_, reinterpret_cast<sockaddr*>(&ss), static_cast<socklen_t>(b.Length()));
    if (rc < 0) ThrowErrno(env, errno, sc);
    return env.Undefined();
  }

  Napi::Value Bind(const Napi::CallbackInfo& info) { return AddrCall(info, false); }
  Napi::Value Connect(const Napi::CallbackInfo& info) { return AddrCall(info, true); }

  Napi::Value GetSockName(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env, "getsockname")) return env.Undefined();
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
      ThrowErrno(env, errno, "getsockname");
      return env.Undefined();
    }
    return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(&ss), len);
  }

  // sendmsg(data, name | null, control | null, flags) -> bytes sent. Non-blocking: EAGAIN is thrown.
  Napi::Value SendMsg(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      ThrowType(env, "sendmsg(data: Buffer, name?: Buffer, control?: Buffer, flags?: number)");
      return env.Undefined();
    }
    if (!CheckOpen(env, "sendmsg")) return env.Undefined();
    auto data = info[0].As<Napi::Buffer<uint8_t>>();
    msghdr msg;
    memset(&msg, 0, sizeof msg);
    iovec iov{data.Data(), data.Length()};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (info.Length() > 1 && info[1].IsBuffer()) {
      auto name = info[1].As<Napi::Buffer<uint8_t>>();
      msg.msg_name = name.Data();
      msg.msg_namelen = static_cast<socklen_t>(name.Length());
    }
    if (info.Length() > 2 && info[2].IsBuffer()) {
      auto control = info[2].As<Napi::Buffer<uint8_t>>();
      if (control.Length() > 0) {
        msg.msg_control = control.Data();
        msg.msg_controllen = control.Length();
      }
    }
    int flags = (info.Length() > 3 && info[3].IsNumber()) ? info[3].As<Napi::Number>().Int32Value() : 0;
    ssize_t n;
    do {
      n = sendmsg(fd_, &msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      ThrowErrno(env, errno, "sendmsg");
      return env.Undefined();
    }
    return Napi::Number::New(env, static_cast<double>(n));
  }

  // startReceiving(callback, bufferSize = 65536): callback(err, data, name, control, flags, realtimeUs,
  // monotonicUs) per datagram; the last two are both clocks (µs, fractional) read just after recvmsg.
  Napi::Value StartReceiving(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) {
      ThrowType(env, "startReceiving(callback, bufferSize?)");
      return env.Undefined();
    }
    if (!CheckOpen(env, "uv_poll_start")) return env.Undefined();
    size_t size = 65536;
    if (info.Length() > 1 && info[1].IsNumber()) {
      int64_t s = info[1].As<Napi::Number>().Int64Value();
      if (s < 256 || s > (1 << 24)) {
        ThrowErrno(env, EINVAL, "uv_poll_start");
        return env.Undefined();
      }
      size = static_cast<size_t>(s);
    }
    recvBuf_.resize(size);
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    if (poll_ == nullptr) {
      uv_loop_t* loop = nullptr;
      if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
        ThrowErrno(env, EINVAL, "napi_get_uv_event_loop");
        return env.Undefined();
      }
      poll_ = new uv_poll_t;
      int rc = uv_poll_init_socket(loop, poll_, fd_);
      if (rc < 0) {
        delete poll_;
        poll_ = nullptr;
        ThrowErrno(env, -rc, "uv_poll_init");
        return env.Undefined();
      }
      if (!refed_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    }
    poll_->data = this;
    if (!polling_) {
      int rc = uv_poll_start(poll_, UV_READABLE, OnReadable);
      if (rc < 0) {
        ThrowErrno(env, -rc, "uv_poll_start");
        return env.Undefined();
      }
      polling_ = true;
    }
    if (!selfRef_) {
      Ref();  // keep the JS object alive while the kernel may deliver to it
      selfRef_ = true;
    }
    if (asyncContext_ == nullptr) asyncContext_ = std::make_unique<Napi::AsyncContext>(env, "KeepalivedTsSocket");
    return env.Undefined();
  }

  Napi::Value StopReceiving(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr && polling_) {
      uv_poll_stop(poll_);
      polling_ = false;
    }
    if (selfRef_) {
      selfRef_ = false;
      Unref();
    }
    return info.Env().Undefined();
  }

  Napi::Value RefPoll(const Napi::CallbackInfo& info) {
    refed_ = true;
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value UnrefPoll(const Napi::CallbackInfo& info) {
    refed_ = false;
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseInternal();
    asyncContext_.reset();
    return info.Env().Undefined();
  }

  // detach(): hands the fd over (e.g. to net.Socket({ fd })) and forgets it: not polled, not closed
  // by close(), the finalizer or teardown. Throws EBADF once closed or detached; EBUSY while receiving.
  Napi::Value Detach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env, "detach")) return env.Undefined();
    if (poll_ != nullptr) {
      ThrowErrno(env, EBUSY, "detach");
      return env.Undefined();
    }
    int fd = fd_;
    fd_ = -1;
    state_->live.erase(this);
    return Napi::Number::New(env, fd);
  }

  static void OnReadable(uv_poll_t* handle, int status, int events) {
    Socket* self = static_cast<Socket*>(handle->data);
    if (self == nullptr) return;
    self->Drain(status);
  }

  // Reads until EAGAIN (bounded per wake-up so a flood cannot starve the event loop; the poll is
  // level-triggered and fires again).
  void Drain(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (status < 0) {
      // libuv reports POLLERR as UV_EBADF and stops the handle. The socket error itself (ENOBUFS on a
      // netlink overrun, ENETDOWN on a packet socket) is read, and cleared, with SO_ERROR; then
      // polling resumes so the socket stays usable. A streak guard stops a POLLERR that never clears.
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (fd_ >= 0 && getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0) {
        Deliver(ErrnoError(env, soerr, "recvmsg").Value(), {});
      } else {
        Deliver(ErrnoError(env, -status, "uv_poll").Value(), {});
      }
      if (fd_ < 0 || poll_ == nullptr || !polling_) return;  // the callback closed or stopped it
      if (++errorStreak_ > 1000 || uv_poll_start(poll_, UV_READABLE, OnReadable) < 0) {
        uv_poll_stop(poll_);
        polling_ = false;
        return;
      }
    } else {
      errorStreak_ = 0;
    }
    for (int i = 0; i < 1024 && fd_ >= 0 && polling_; i++) {
      sockaddr_storage name;
      alignas(cmsghdr) uint8_t control[1024];
      iovec iov{recvBuf_.data(), recvBuf_.size()};
      msghdr msg;
      memset(&msg, 0, sizeof msg);
      msg.msg_name = &name;
      msg.msg_namelen = sizeof name;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t n = recvmsg(fd_, &msg, MSG_DONTWAIT);
      if (n < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) return;
        if (err == EINTR) continue;
        Napi::HandleScope inner(env);
        Deliver(ErrnoError(env, err, "recvmsg").Value(), {});
        if (err == ENOBUFS) continue;  // netlink overrun: reported, the socket stays usable
        return;
      }
      // Both clocks right after recvmsg, so that a kernel receive stamp (SO_TIMESTAMPNS, realtime) can
      // be mapped onto the monotonic clock in TypeScript.
      timespec rt, mono;
      clock_gettime(CLOCK_REALTIME, &rt);
      clock_gettime(CLOCK_MONOTONIC, &mono);
      Napi::HandleScope inner(env);
      size_t len = static_cast<size_t>(n) < recvBuf_.size() ? static_cast<size_t>(n) : recvBuf_.size();
      std::vector<napi_value> args = {
          env.Null(),
          Napi::Buffer<uint8_t>::Copy(env, recvBuf_.data(), len),
          Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(&name), msg.msg_namelen),
          Napi::Buffer<uint8_t>::Copy(env, control, msg.msg_controllen),
          Napi::Number::New(env, msg.msg_flags),
          Napi::Number::New(env, static_cast<double>(rt.tv_sec) * 1e6 + static_cast<double>(rt.tv_nsec) / 1e3),
          Napi::Number::New(env, static_cast<double>(mono.tv_sec) * 1e6 + static_cast<double>(mono.tv_nsec) / 1e3),
      };
      Deliver(env.Null(), args);
    }
  }

  void Deliver(napi_value err, std::vector<napi_value> args) {
    Napi::Env env = Env();
    if (callback_.IsEmpty() || !asyncContext_) return;
    if (args.empty()) args = {err};
    Napi::Function fn = callback_.Value();
    fn.MakeCallback(Value(), args, *asyncContext_);
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool polling_ = false;
  bool refed_ = true;
  bool selfRef_ = false;
  int errorStreak_ = 0;
  std::vector<uint8_t> recvBuf_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
  EnvState* state_ = nullptr;
};

void KeepEnvState(Napi::Env, EnvState*) {}

void CleanupEnv(void* arg) {
  auto* st = static_cast<EnvState*>(arg);
  st->tornDown = true;
  std::vector<Socket*> all(st->live.begin(), st->live.end());
  for (Socket* s : all) s->TearDown();
}

Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowType(env, "ifNameToIndex(name: string)");
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.size() >= IF_NAMESIZE) {
    ThrowErrno(env, ENODEV, "if_nametoindex");
    return env.Undefined();
  }
  errno = 0;
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) {
    ThrowErrno(env, errno != 0 ? errno : ENODEV, "if_nametoindex");
    return env.Undefined();
  }
  return Napi::Number::New(env, idx);
}

Napi::Value IfIndexToName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowType(env, "ifIndexToName(index: number)");
    return env.Undefined();
  }
  char buf[IF_NAMESIZE];
  if (if_indextoname(info[0].As<Napi::Number>().Uint32Value(), buf) == nullptr) {
    ThrowErrno(env, errno, "if_indextoname");
    return env.Undefined();
  }
  return Napi::String::New(env, buf);
}

// nsOpen(path) -> fd (O_RDONLY | O_CLOEXEC), for nsEnter / nsClose.
Napi::Value NsOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowType(env, "nsOpen(path: string)");
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ThrowErrno(env, errno, "open");
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// nsEnter(fd, nstype): setns(2). Switches only the calling thread (Node's main thread).
Napi::Value NsEnter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    ThrowType(env, "nsEnter(fd: number, nstype: number)");
    return env.Undefined();
  }
  if (setns(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value()) < 0) {
    ThrowErrno(env, errno, "setns");
  }
  return env.Undefined();
}

Napi::Value NsClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowType(env, "nsClose(fd: number)");
    return env.Undefined();
  }
  if (::close(info[0].As<Napi::Number>().Int32Value()) < 0) ThrowErrno(env, errno, "close");
  return env.Undefined();
}


// --- Thread scheduling (vrrp_/checker_ priority, rt_priority, no_swap, rlimit_rttime) ---

// gettid() -> the calling thread's kernel tid (a worker_thread gets its own).
Napi::Value GetTid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(syscall(SYS_gettid)));
}

bool TwoInts(const Napi::CallbackInfo& info, const char* usage, int* a, int* b) {
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    ThrowType(info.Env(), usage);
    return false;
  }
  *a = info[0].As<Napi::Number>().Int32Value();
  *b = info[1].As<Napi::Number>().Int32Value();
  return true;
}

// setThreadNice(tid, nice): setpriority(PRIO_PROCESS, tid), which on Linux applies to that one thread.
Napi::Value SetThreadNice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int tid, nice;
  if (!TwoInts(info, "setThreadNice(tid: number, nice: number)", &tid, &nice)) return env.Undefined();
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) < 0) ThrowErrno(env, errno, "setpriority");
  return env.Undefined();
}

// setThreadScheduler(tid, policy, priority): sched_setscheduler(2) on one thread; `policy` may carry
// SCHED_RESET_ON_FORK.
Napi::Value SetThreadScheduler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    ThrowType(env, "setThreadScheduler(tid: number, policy: number, priority: number)");
    return env.Undefined();
  }
  sched_param sp;
  memset(&sp, 0, sizeof sp);
  sp.sched_priority = info[2].As<Napi::Number>().Int32Value();
  if (sched_setscheduler(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(), &sp) <
      0) {
    ThrowErrno(env, errno, "sched_setscheduler");
  }
  return env.Undefined();
}

// setRlimit(resource, soft, hard): a negative limit means RLIM_INFINITY. Process-wide.
Napi::Value SetRlimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    ThrowType(env, "setRlimit(resource: number, soft: number, hard: number)");
    return env.Undefined();
  }
  auto lim = [](const Napi::Value& v) -> rlim_t {
    double d = v.As<Napi::Number>().DoubleValue();
    return d < 0 ? RLIM_INFINITY : static_cast<rlim_t>(d);
  };
  rlimit rl{lim(info[1]), lim(info[2])};
  if (setrlimit(info[0].As<Napi::Number>().Int32Value(), &rl) < 0) ThrowErrno(env, errno, "setrlimit");
  return env.Undefined();
}

// getRlimit(resource) -> [soft, hard], -1 meaning RLIM_INFINITY.
Napi::Value GetRlimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowType(env, "getRlimit(resource: number)");
    return env.Undefined();
  }
  rlimit rl;
  if (getrlimit(info[0].As<Napi::Number>().Int32Value(), &rl) < 0) {
    ThrowErrno(env, errno, "getrlimit");
    return env.Undefined();
  }
  auto num = [&](rlim_t v) { return Napi::Number::New(env, v == RLIM_INFINITY ? -1.0 : static_cast<double>(v)); };
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, num(rl.rlim_cur));
  out.Set(1u, num(rl.rlim_max));
  return out;
}

// --- Caught real-time signals (keepalived's SIGJSON = SIGRTMIN+2, SIGSTATS_CLEAR = SIGRTMAX-1) ---
// Node installs no handler for SIGRTMIN..SIGRTMAX, whose default action ends the process. catchSignal
// installs a process-wide handler that sends the signal number, one byte, into a stream socketpair
// (a datagram pair would drop beyond net.unix.max_dgram_qlen, 10 by default, queued signals); the
// read end is a Socket that JavaScript polls like any other (startReceiving). The
// handler only calls send(2), which is async-signal-safe, and may run on any thread. The write end's
// descriptor number never changes once made (a later pair is dup3'ed onto it), so a handler running
// concurrently never writes to a descriptor that was closed and reused.

static_assert(std::atomic<int>::is_always_lock_free, "signal handler needs a lock-free int");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "signal handler needs a lock-free counter");

std::atomic<int> gSigWriteFd{-1};
std::atomic<uint64_t> gSigDropped{0};  // signals whose byte could not be queued
std::mutex gSigMutex;                   // serializes signalSocket(); never taken in the handler

extern "C" void OnCaughtSignal(int signo) {
  int saved = errno;
  int fd = gSigWriteFd.load(std::memory_order_acquire);
  unsigned char b = static_cast<unsigned char>(signo);
  if (fd < 0 || send(fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) gSigDropped.fetch_add(1, std::memory_order_relaxed);
  errno = saved;
}

// signalSocket() -> Socket: the read end of a new pair, which from now on receives every caught
// signal, one byte (the number) each; an earlier read end sees end-of-file (a read of 0 bytes).
Napi::Value SignalSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(gSigMutex);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
    ThrowErrno(env, errno, "socketpair");
    return env.Undefined();
  }
  int cur = gSigWriteFd.load(std::memory_order_acquire);
  if (cur < 0) {
    gSigWriteFd.store(sv[1], std::memory_order_release);
  } else {
    if (dup3(sv[1], cur, O_CLOEXEC) < 0) {
      int err = errno;
      ::close(sv[0]);
      ::close(sv[1]);
      ThrowErrno(env, err, "dup3");
      return env.Undefined();
    }
    ::close(sv[1]);
  }
  int fd = sv[0];
  Napi::Value sock = env.GetInstanceData<EnvState>()->socketCtor.New({Napi::External<int>::New(env, &fd)});
  if (env.IsExceptionPending()) {
    ::close(fd);
    return env.Undefined();
  }
  return sock;
}

// catchSignal(signo): sigaction(signo) with the handler above (SA_RESTART). Only SIGRTMIN..SIGRTMAX:
// the classic signals belong to Node (process.on). EINVAL outside that range. There is no way back to
// the default action: a late signal must never end the process.
Napi::Value CatchSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowType(env, "catchSignal(signo: number)");
    return env.Undefined();
  }
  double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= SIGRTMIN && d <= SIGRTMAX) || d != static_cast<int>(d)) {
    ThrowErrno(env, EINVAL, "sigaction");
    return env.Undefined();
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnCaughtSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(static_cast<int>(d), &sa, nullptr) < 0) ThrowErrno(env, errno, "sigaction");
  return env.Undefined();
}

// signalDrops() -> caught signals whose byte could not be queued (no pair yet, buffer full, reader gone).
Napi::Value SignalDrops(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(gSigDropped.load(std::memory_order_relaxed)));
}

// --- Reaping orphans when the daemon is PID 1 or a child subreaper (src/notify/script.ts) ---

// waitidPeek() -> [pid, si_code, si_status]: waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT), i.e. one
// child that has ended, left waitable (not reaped); pid 0 when none has, -1 when there is no child
// at all (ECHILD, which libuv has no name for).
Napi::Value WaitidPeek(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
    if (errno == ECHILD) si.si_pid = -1;
    else {
      ThrowErrno(env, errno, "waitid");
      return env.Undefined();
    }
  }
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, si.si_pid));
  out.Set(1u, Napi::Number::New(env, si.si_code));
  out.Set(2u, Napi::Number::New(env, si.si_status));
  return out;
}

// waitpidNoHang(pid) -> [pid, wstatus]: waitpid(pid, WNOHANG); pid 0 while that child runs, -1 when
// it is not (or no longer) our child (ECHILD).
Napi::Value WaitpidNoHang(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowType(env, "waitpidNoHang(pid: number)");
    return env.Undefined();
  }
  int pid = info[0].As<Napi::Number>().Int32Value();
  if (pid <= 0) {  // only one given child: never "any child" (-1) nor a process group
    ThrowErrno(env, EINVAL, "waitpid");
    return env.Undefined();
  }
  int status = 0;
  pid_t rc = waitpid(pid, &status, WNOHANG);
  if (rc < 0 && errno != ECHILD) {
    ThrowErrno(env, errno, "waitpid");
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, rc));
  out.Set(1u, Napi::Number::New(env, status));
  return out;
}

// getChildSubreaper() -> prctl(PR_GET_CHILD_SUBREAPER): whether orphans are reparented to us.
Napi::Value GetChildSubreaper(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int v = 0;
  if (prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0) < 0) {
    ThrowErrno(env, errno, "prctl");
    return env.Undefined();
  }
  return Napi::Boolean::New(env, v != 0);
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
#define K(name) c.Set(#name, Napi::Number::New(env, name))
  K(AF_UNIX); K(AF_INET); K(AF_INET6); K(AF_NETLINK); K(AF_PACKET);
  K(SOCK_STREAM); K(SOCK_DGRAM); K(SOCK_RAW);
  K(SOL_SOCKET); K(SO_RCVBUF); K(SO_SNDBUF); K(SO_RCVBUFFORCE); K(SO_BINDTODEVICE); K(SO_PRIORITY); K(SO_MARK);
  K(SO_ATTACH_FILTER);
  K(IPPROTO_IP); K(IPPROTO_IPV6); K(IPPROTO_ICMPV6); K(IPPROTO_RAW);
  K(IP_TOS); K(IP_TTL); K(IP_HDRINCL); K(IP_PKTINFO); K(IP_RECVTTL); K(IP_RECVTOS);
  K(IP_MULTICAST_IF); K(IP_MULTICAST_TTL); K(IP_MULTICAST_LOOP); K(IP_ADD_MEMBERSHIP); K(IP_DROP_MEMBERSHIP);
  K(IP_MULTICAST_ALL);
  K(IPV6_CHECKSUM); K(IPV6_UNICAST_HOPS); K(IPV6_MULTICAST_IF); K(IPV6_MULTICAST_HOPS); K(IPV6_MULTICAST_LOOP);
  K(IPV6_JOIN_GROUP); K(IPV6_LEAVE_GROUP); K(IPV6_MULTICAST_ALL); K(IPV6_RECVPKTINFO); K(IPV6_PKTINFO);
  K(IPV6_RECVHOPLIMIT); K(IPV6_HOPLIMIT); K(IPV6_TCLASS); K(IPV6_RECVTCLASS); K(IPV6_V6ONLY);
  K(SOL_NETLINK); K(NETLINK_ROUTE); K(NETLINK_GENERIC); K(NETLINK_ADD_MEMBERSHIP); K(NETLINK_DROP_MEMBERSHIP);
  K(NETLINK_NO_ENOBUFS); K(NETLINK_CAP_ACK); K(NETLINK_EXT_ACK); K(NETLINK_GET_STRICT_CHK);
  K(SOL_PACKET);
  K(MSG_TRUNC); K(MSG_CTRUNC); K(MSG_DONTROUTE);
  K(CLONE_NEWNET);
  K(SCHED_OTHER); K(SCHED_RR); K(SCHED_RESET_ON_FORK); K(RLIMIT_RTTIME);
  K(SO_TIMESTAMPNS);
  K(SIGRTMIN); K(SIGRTMAX);  // glibc: functions of the C library, read at load time
#undef K
  c.Set("SIZEOF_SIZE_T", Napi::Number::New(env, sizeof(size_t)));
  c.Set("SIZEOF_CMSGHDR", Napi::Number::New(env, sizeof(cmsghdr)));
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* st = new EnvState();
  env.SetInstanceData<EnvState, KeepEnvState>(st);  // see EnvState: never freed
  napi_add_env_cleanup_hook(env, CleanupEnv, st);
  Napi::Function socketCtor = Socket::Init(env);
  st->socketCtor = Napi::Persistent(socketCtor);
  exports.Set("Socket", socketCtor);
  exports.Set("ifNameToIndex", Napi::Function::New(env, IfNameToIndex));
  exports.Set("ifIndexToName", Napi::Function::New(env, IfIndexToName));
  exports.Set("nsOpen", Napi::Function::New(env, NsOpen));
  exports.Set("nsEnter", Napi::Function::New(env, NsEnter));
  exports.Set("nsClose", Napi::Function::New(env, NsClose));
  exports.Set("gettid", Napi::Function::New(env, GetTid));
  exports.Set("setThreadNice", Napi::Function::New(env, SetThreadNice));
  exports.Set("setThreadScheduler", Napi::Function::New(env, SetThreadScheduler));
  exports.Set("setRlimit", Napi::Function::New(env, SetRlimit));
  exports.Set("getRlimit", Napi::Function::New(env, GetRlimit));
  exports.Set("signalSocket", Napi::Function::New(env, SignalSocket));
  exports.Set("catchSignal", Napi::Function::New(env, CatchSignal));
  exports.Set("signalDrops", Napi::Function::New(env, SignalDrops));
  exports.Set("waitidPeek", Napi::Function::New(env, WaitidPeek));
  exports.Set("waitpidNoHang", Napi::Function::New(env, WaitpidNoHang));
  exports.Set("getChildSubreaper", Napi::Function::New(env, GetChildSubreaper));
  exports.Set("constants", Constants(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(keepalived_ts_native, Init)
