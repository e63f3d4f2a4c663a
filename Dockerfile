# The Varde gRPC server as an image. Build, run, make a base without a registry: docs/deploy.md ("The container").
#
#   podman build --format docker -t varde .        (or: docker build -t varde .)
#
# BASE is any Debian bookworm image: the official Python image, or a local one made with debootstrap where no
# registry can be reached. Python 3.11 comes from the base if it has it, else from Debian (bookworm's is 3.11).
ARG BASE=python:3.11-slim-bookworm

# --- python: the base with python3, venv and pip -------------------------------------------------------------------
FROM ${BASE} AS python

# Unpinned Debian packages: bookworm's python3 only gets security fixes, and the archive drops superseded
# versions, so a pinned version would break the build at the next point release.
# hadolint ignore=DL3008
RUN if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -c 'import sys; assert sys.version_info >= (3, 11), sys.version'

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src

# --- deps: a virtual environment with Varde's dependencies and no pip; its own layer in the image, so that a change
# to Varde's code neither downloads nor ships these 470 MB again --------------------------------------------------
FROM python AS deps
# PIP_INDEX_URL: the package index (default PyPI). PIP_CERT: a CA bundle for HTTPS behind an intercepting proxy,
# given as the build secret "pip_cert" (build --secret id=pip_cert,src=FILE) and named by its path in the build:
# --build-arg PIP_CERT=/run/secrets/pip_cert. pip reads both from the environment.
ARG PIP_INDEX_URL
ARG PIP_CERT
COPY pyproject.toml ./
# The libraries' own test suites and C headers are of no use in the image (about 50 MB).
RUN --mount=type=secret,id=pip_cert \
    python3 -m venv --without-pip /opt/varde \
    && python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && python3 -m pip --python /opt/varde/bin/python install -r /tmp/requirements.txt \
    && site=$(/opt/varde/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') \
    && rm -rf "$site"/numba/tests "$site"/numpy/*/tests "$site"/pyarrow/tests "$site"/pyarrow/include

# --- build: the wheel, installed into that environment; its files (and only those) copied to /stage --------------
FROM deps AS build
ARG PIP_INDEX_URL
ARG PIP_CERT
COPY README.md LICENSE ./
COPY varde ./varde
COPY scoring ./scoring
COPY server ./server
COPY clients ./clients
RUN --mount=type=secret,id=pip_cert \
    python3 -m pip wheel --no-deps --wheel-dir /wheels . \
    && python3 -m pip --python /opt/varde/bin/python install --no-deps /wheels/varde-*.whl \
    && /opt/varde/bin/python -I -c 'import importlib.metadata as m, os; \
print("\n".join(os.path.relpath(f.locate(), "/") for f in m.distribution("varde").files))' > /tmp/varde-files \
    && tar -C / -cf /tmp/varde.tar --verbatim-files-from -T /tmp/varde-files \
    && mkdir /stage \
    && tar -C /stage -xf /tmp/varde.tar

# --- runtime: Python, the environment, the compiled kernels; no compiler, no pip, not root ------------------------
FROM ${BASE} AS runtime

# python3 if the base lacks it; libgomp1 for Numba's OpenMP threading layer (without it Numba falls back to its
# "workqueue" layer, which aborts the process when two gRPC threads run a parallel kernel at the same time).
# Unpinned for the reason given in the python stage.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && if ! command -v python3 >/dev/null; then apt-get install -y --no-install-recommends python3; fi \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 varde \
    && useradd --uid 10001 --gid 10001 --home-dir /var/lib/varde --no-create-home --shell /usr/sbin/nologin varde \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/varde \
    && install -d -o 10001 -g 10001 -m 0755 /var/cache/varde /var/cache/varde/numba

COPY --from=deps /opt/varde /opt/varde
COPY --from=build /stage/ /

# The same path at build and at run: Numba's cache index records each kernel's source file by path and
# modification time, and the CPU it was compiled for. Numba uses NUMBA_CACHE_DIR only if it may write there, so
# the directory belongs to the runtime user.
ENV PATH=/opt/varde/bin:$PATH \
    NUMBA_CACHE_DIR=/var/cache/varde/numba \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VARDE_ADDRESS=0.0.0.0:50051 \
    VARDE_METRICS_HOST=0.0.0.0 \
    VARDE_METRICS_PORT=9464 \
    VARDE_QUEUE=/var/lib/varde/queue.sqlite3

USER 10001:10001
WORKDIR /var/lib/varde

# Compile every kernel now, as the user that runs the server, so that `varde serve` loads them (seconds)
# instead of compiling them (a minute) at every start. The trend kernel (flags: NEWS2_RISING) is in no warm_up()
# yet, so the first request that raised a flag would compile it: `rising` here, with the times read-only (as the
# flag rules pass them, straight from Arrow) and writable.
RUN python -c "from varde.scoring import warm_up; warm_up(); \
from varde.scoring.risk import warm_up as w; w(); \
from varde.scoring.national_id import warm_up as n; n(); \
import numpy as np; from varde.scoring.trend import TrendState, rising; \
t = np.zeros(1, np.int64); rising(np.array([0, 1]), t, np.array([5]), np.array([1]), TrendState.empty(1)); \
t.setflags(write=False); rising(np.array([0, 1]), t, np.array([5]), np.array([1]), TrendState.empty(1))" \
    && test -n "$(find /var/cache/varde/numba -name '*.nbi')"

VOLUME ["/var/lib/varde"]
EXPOSE 50051 9464

# Health checking is open to every caller, but over TLS the check needs the server's CA (VARDE_TLS_CA) and, with
# mutual TLS, a client certificate the client CA signed (VARDE_HEALTHCHECK_TLS_CERT, VARDE_HEALTHCHECK_TLS_KEY;
# any name: it needs no role). VARDE_TLS_CERT/VARDE_TLS_KEY are the server's own files, not a client's, so the
# check does not pass them on. It dials 127.0.0.1 on the port of VARDE_ADDRESS: the server certificate must name
# 127.0.0.1, or set VARDE_HEALTHCHECK_SERVER to a name it has (e.g. localhost:50051).
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["/bin/sh", "-c", "exec env -u VARDE_TLS_CERT -u VARDE_TLS_KEY varde health --timeout 5 --server \"${VARDE_HEALTHCHECK_SERVER:-127.0.0.1:${VARDE_ADDRESS##*:}}\" ${VARDE_HEALTHCHECK_TLS_CERT:+--tls-cert \"$VARDE_HEALTHCHECK_TLS_CERT\" --tls-key \"$VARDE_HEALTHCHECK_TLS_KEY\"}"]

# SIGTERM: the server reports NOT_SERVING, refuses new calls, lets in-flight ones finish within
# --grace-seconds (VARDE_GRACE_SECONDS, default 10), closes the queue and exits 0. Give `stop` more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["varde", "serve"]
CMD []
