module github.com/skymsg/sky

go 1.26
